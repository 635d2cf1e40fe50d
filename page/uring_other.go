//go:build !linux

package page

// uring stands for io_uring where there is none: NewPageReader reports
// ErrNoBatchRead and callers read page by page.
type uring struct{}

func newURing(file, depth int) (*uring, error) { return nil, ErrNoBatchRead }

func (r *uring) read(ids []uint64, errs []error, buf []byte, ps int) error { return ErrNoBatchRead }

func (r *uring) close() error { return nil }
