//go:build !linux

package page

// uring stands for io_uring where there is none: NewPageReader reports
// ErrNoBatchRead and callers read page by page.
type uring struct{}

func newURing(file, depth, win int) (*uring, []byte, error) { return nil, nil, ErrNoBatchRead }

func (r *uring) readAt(offs []int64, n int, errs []error, buf []byte) error { return ErrNoBatchRead }

func (r *uring) close(win []byte) error { return nil }
