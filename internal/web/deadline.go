package web

import (
	"io"
	"net/http"
	"time"
)

// BodyDeadline gives every request body timeout to arrive, whatever the
// route: past it, reads fail and the connection is closed. Without it, a
// client sending a body byte by byte holds its connection, its goroutine
// and the buffer the body is read into for as long as it likes.
//
// The deadline is lifted once the body is read whole, because a handler
// may then answer for long (the MCP event stream): net/http watches the
// connection while the handler runs, and a read deadline passing then would
// cancel the request. Requests without a body get no deadline for the same
// reason. http.Server's ReadTimeout cannot be used: it would do just that.
func BodyDeadline(next http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline when the body has been read whole.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
