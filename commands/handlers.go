package commands

// handlers maps each command (or "command|subcommand") to where it runs and
// its handler. newTable checks it against the recorded Redis metadata.
func handlers() map[string]spec {
	c := func(h handler) spec { return spec{kind: kindConn, run: h} }
	r := func(h handler) spec { return spec{kind: kindRead, run: h} }
	w := func(h handler) spec { return spec{kind: kindWrite, run: h} }
	// wh: a write heavy by what it does, as wg weighs it (heavy.go).
	wh := func(h handler, wg weigher) spec { return spec{kind: kindWrite, run: h, weigh: wg} }
	return map[string]spec{
		// connection
		"ping": c(cmdPing), "echo": c(cmdEcho), "quit": c(cmdQuit), "reset": c(cmdReset),
		"hello": c(cmdHello), "auth": c(cmdAuth), "select": c(cmdSelect),
		"client|id": c(cmdClientID), "client|setname": c(cmdClientSetName), "client|getname": c(cmdClientGetName),
		"client|setinfo": c(cmdClientSetInfo), "client|list": c(cmdClientList), "client|info": c(cmdClientInfo),
		"client|kill": c(cmdClientKill), "client|no-evict": c(cmdClientOnOff), "client|no-touch": c(cmdClientOnOff),
		"client|help": c(cmdClientHelp),
		// strings
		"get": r(cmdGet), "set": wh(cmdSet, setHeavy), "setnx": w(cmdSetNX), "setex": w(cmdSetEX), "psetex": w(cmdPSetEX),
		"getset": wh(cmdGetSet, getHeavy), "getdel": wh(cmdGetDel, getHeavy), "getex": wh(cmdGetEx, getHeavy), "mget": r(cmdMGet),
		"mset": w(cmdMSet), "msetnx": w(cmdMSetNX), "incr": w(cmdIncr), "decr": w(cmdDecr),
		"incrby": w(cmdIncrBy), "decrby": w(cmdDecrBy), "incrbyfloat": w(cmdIncrByFloat),
		"append": w(cmdAppend), "strlen": r(cmdStrlen), "getrange": r(cmdGetRange), "substr": r(cmdGetRange),
		"setrange": wh(cmdSetRange, setRangeHeavy), "lcs": r(cmdLCS),
		// keys
		"del": w(cmdDel), "unlink": w(cmdDel), "exists": r(cmdExists), "type": r(cmdType), "keys": r(cmdKeys),
		"scan": r(cmdScan), "randomkey": r(cmdRandomKey), "rename": wh(cmdRename, alwaysHeavy), "renamenx": wh(cmdRenameNX, alwaysHeavy),
		"copy": wh(cmdCopy, alwaysHeavy), "move": wh(cmdMove, alwaysHeavy), "touch": r(cmdExists),
		"object|encoding": r(cmdObject), "object|freq": r(cmdObject), "object|idletime": r(cmdObject),
		"object|refcount": r(cmdObject), "object|help": c(cmdObjectHelp),
		"dbsize": wh(cmdDBSize, alwaysHeavy), "flushdb": w(cmdFlushDB), "flushall": w(cmdFlushAll), "swapdb": w(cmdSwapDB),
		"expire": w(cmdExpire), "pexpire": w(cmdPExpire), "expireat": w(cmdExpireAt), "pexpireat": w(cmdPExpireAt),
		"ttl": r(cmdTTL), "pttl": r(cmdPTTL), "expiretime": r(cmdExpireTime), "pexpiretime": r(cmdPExpireTime),
		"persist": w(cmdPersist),
		// transactions
		"multi": c(cmdMulti), "exec": c(cmdExec), "discard": c(cmdDiscard), "watch": c(cmdWatch), "unwatch": c(cmdUnwatch),
		// server
		"info": c(cmdInfo), "config|get": c(cmdConfigGet), "config|set": c(cmdConfigSet),
		"config|resetstat": c(cmdConfigResetStat), "config|help": c(cmdConfigHelp),
		"command": c(cmdCommand), "command|count": c(cmdCommandCount), "command|list": c(cmdCommandList),
		"command|info": c(cmdCommandInfo), "command|docs": c(cmdCommandDocs), "command|help": c(cmdCommandHelp),
		"time": c(cmdTime), "lastsave": c(cmdLastSave), "save": c(cmdSave), "bgsave": c(cmdBgSave),
		"shutdown": c(cmdShutdown), "wait": c(cmdWait), "debug": c(cmdDebug),
		"function|flush": c(cmdFlushScripts), "function|help": c(cmdFunctionHelp),
		"script|flush": c(cmdFlushScripts), "script|help": c(cmdScriptHelp),
	}
}
