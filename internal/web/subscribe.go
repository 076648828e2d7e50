package web

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net"
	"net/http"

	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/subscribe"
)

// Subscriptions is what the page's "Get updates by e-mail" form and the
// manager's subscriber routes drive: *subscribe.Service.
type Subscriptions interface {
	Choices() []subscribe.Choice
	Subscribe(ctx context.Context, in subscribe.SignUp) error
	Confirm(ctx context.Context, token string) error
	Unsubscribe(ctx context.Context, token string) error
	Add(ctx context.Context, a subscribe.Addition) (store.Subscriber, error)
	List(ctx context.Context) ([]store.Subscriber, error)
	Delete(ctx context.Context, id string) error
}

// maxFormBytes bounds the sign-up, confirm and unsubscribe forms: an
// address and a few service ids.
const maxFormBytes = 16 << 10

// subscribeRoutes registers the public side of subscriptions; only when
// [subscriptions] is enabled, else those paths are Vigil's empty 404.
// Every action is a POST: a GET shows a page with one button, so that a
// mail scanner that opens links confirms and unsubscribes nobody.
func (s *Server) subscribeRoutes() {
	s.mux.HandleFunc("POST /subscriptions", s.handleSubscribe)
	s.mux.HandleFunc("GET /subscriptions/confirm", s.handleConfirmPage)
	s.mux.HandleFunc("POST /subscriptions/confirm", s.handleConfirm)
	s.mux.HandleFunc("GET /subscriptions/unsubscribe", s.handleUnsubscribePage)
	// RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the
	// List-Unsubscribe URL; the token is in its query, so the body is not
	// needed, and the answer unsubscribes at once, without a login.
	s.mux.HandleFunc("POST /subscriptions/unsubscribe", s.handleUnsubscribe)
}

// subscribeView is the form on the page.
type subscribeView struct {
	// Services are offered as checkboxes when there are several; none
	// ticked, or all, means every service.
	Services []subscribe.Choice
}

func (s *Server) subscribeView() *subscribeView {
	if s.subs == nil {
		return nil
	}
	v := &subscribeView{}
	if c := s.subs.Choices(); len(c) > 1 {
		v.Services = c
	}
	return v
}

// The answer to a sign-up that was accepted: the same bytes whether the
// address was new, pending or subscribed already.
const signUpAnswer = "If this address can be subscribed, a message with a confirmation link is on its way to it. " +
	"Open the link within 24 hours to start getting updates."

func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.subscribePage(w, r, http.StatusBadRequest, "Subscription", "The form could not be read: "+err.Error(), nil)
		return
	}
	err := s.subs.Subscribe(r.Context(), subscribe.SignUp{
		Address:  r.PostForm.Get("address"),
		Services: r.PostForm["service"],
		Client:   clientAddress(r),
	})
	var bad *subscribe.InputError
	switch {
	case err == nil:
		s.subscribePage(w, r, http.StatusOK, "Check your inbox", signUpAnswer, nil)
	case errors.As(err, &bad):
		s.subscribePage(w, r, http.StatusBadRequest, "Subscription", bad.Reason+". Go back to the page to correct it.", nil)
	case errors.Is(err, subscribe.ErrRateLimited):
		w.Header().Set("Retry-After", "3600")
		s.subscribePage(w, r, http.StatusTooManyRequests, "Subscription", "Too many sign-ups: try again in an hour.", nil)
	case errors.Is(err, subscribe.ErrBusy):
		w.Header().Set("Retry-After", "3600")
		s.subscribePage(w, r, http.StatusServiceUnavailable, "Subscription", "Too many sign-ups are waiting for their confirmation: try again later.", nil)
	default:
		s.log.Error("subscription failed", "error", err)
		s.subscribePage(w, r, http.StatusInternalServerError, "Subscription", "Something went wrong on our side; please try again later.", nil)
	}
}

func (s *Server) handleConfirmPage(w http.ResponseWriter, r *http.Request) {
	s.subscribePage(w, r, http.StatusOK, "Confirm your subscription", "One more step: confirm that you want updates by e-mail.",
		&formView{Token: r.URL.Query().Get("token"), Button: "Confirm my subscription"})
}

func (s *Server) handleConfirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	err := s.subs.Confirm(r.Context(), r.FormValue("token"))
	switch {
	case err == nil:
		s.subscribePage(w, r, http.StatusOK, "Subscription confirmed", "You will be told about incidents and maintenance by e-mail. Every message has a link to unsubscribe.", nil)
	case errors.Is(err, subscribe.ErrLinkExpired):
		s.subscribePage(w, r, http.StatusGone, "Link expired", "This confirmation link has expired. Subscribe again on the page to get a new one.", nil)
	case errors.Is(err, subscribe.ErrBadLink):
		s.subscribePage(w, r, http.StatusBadRequest, "Invalid link", "This confirmation link is not valid. Copy the whole link from the message, or subscribe again on the page.", nil)
	default:
		s.log.Error("subscription confirmation failed", "error", err)
		s.subscribePage(w, r, http.StatusInternalServerError, "Confirmation", "Something went wrong on our side; please try the link again later.", nil)
	}
}

func (s *Server) handleUnsubscribePage(w http.ResponseWriter, r *http.Request) {
	s.subscribePage(w, r, http.StatusOK, "Unsubscribe", "Stop getting updates by e-mail?",
		&formView{Token: r.URL.Query().Get("token"), Button: "Unsubscribe"})
}

func (s *Server) handleUnsubscribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := s.subs.Unsubscribe(r.Context(), r.FormValue("token")); err != nil {
		s.log.Error("unsubscribe failed", "error", err)
		s.subscribePage(w, r, http.StatusInternalServerError, "Unsubscribe", "Something went wrong on our side; please try again later.", nil)
		return
	}
	s.subscribePage(w, r, http.StatusOK, "Unsubscribed", "You will get no more updates by e-mail.", nil)
}

// clientAddress is the IP address the request came from, for the rate
// limit. Behind a reverse proxy every visitor has the proxy's address, so
// the limit then applies to all of them together.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type formView struct {
	Token  string
	Button string
}

type subscribePageView struct {
	PageTitle string
	Heading   string
	Text      string
	Form      *formView
	Back      string // the page, relative to the route answering
}

// subscribePageHTML is the small page every subscription route answers
// with: self-contained, readable without the theme, and with no script.
var subscribePageHTML = template.Must(template.New("subscription").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Heading}} – {{.PageTitle}}</title>
<style>
body { font-family: system-ui, sans-serif; color: #1a1a1a; background: #f7f8fa; margin: 0; }
.subscribe-result { max-width: 34rem; margin: 4rem auto; padding: 2rem; background: #fff; border-radius: 8px; }
.subscribe-result h1 { font-size: 1.4rem; margin-top: 0; }
.subscribe-result button { font: inherit; padding: .6rem 1.2rem; border: 0; border-radius: 4px; background: #1a5fd0; color: #fff; cursor: pointer; }
.subscribe-result a { color: #1a5fd0; }
@media (prefers-color-scheme: dark) {
  body { background: #111418; color: #e8e8e8; }
  .subscribe-result { background: #1c2127; }
  .subscribe-result a { color: #8ab4f8; }
}
</style>
</head>
<body>
<main class="subscribe-result">
<h1>{{.Heading}}</h1>
<p>{{.Text}}</p>
{{- with .Form}}
<form method="post">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit">{{.Button}}</button>
</form>
{{- end}}
<p><a href="{{.Back}}">Back to {{.PageTitle}}</a></p>
</main>
</body>
</html>
`))

func (s *Server) subscribePage(w http.ResponseWriter, r *http.Request, code int, heading, text string, form *formView) {
	back := "../" // from /subscriptions/confirm and /subscriptions/unsubscribe
	if r.URL.Path == "/subscriptions" {
		back = "./"
	}
	var b bytes.Buffer
	view := subscribePageView{PageTitle: s.cfg.Branding.PageTitle, Heading: heading, Text: text, Form: form, Back: back}
	if err := subscribePageHTML.Execute(&b, view); err != nil {
		s.log.Error("render a subscription page", "error", err)
		plainError(w, http.StatusInternalServerError, "internal error")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}
