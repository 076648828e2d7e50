package notify

import (
	"context"
	"net/http"
)

// Webex is [notify.webex].
type Webex struct {
	EndpointURL string `toml:"endpoint_url" check:"url"`
	Token       string `toml:"token" check:"secret"`
	RoomID      string `toml:"room_id" check:"required"`
	Common
}

func (w *Webex) targets(o Options) ([]Target, []string, error) { return single(newWebex(w, o)) }

// webex posts a message to a Webex room with a bearer token.
type webex struct {
	p       poster
	url     string
	auth    http.Header
	roomID  string
	secrets []string
}

func newWebex(c *Webex, o Options) (*webex, error) {
	if _, err := joinURL(c.EndpointURL); err != nil {
		return nil, err
	}
	return &webex{
		p:       o.poster(),
		url:     c.EndpointURL,
		auth:    http.Header{"Authorization": {"Bearer " + c.Token}},
		roomID:  c.RoomID,
		secrets: []string{c.Token},
	}, nil
}

type webexPayload struct {
	RoomID string `json:"roomId"`
	Text   string `json:"text"`
}

// Notify posts {"roomId", "text"} to endpoint_url with Authorization:
// Bearer <token>.
func (w *webex) Notify(ctx context.Context, m Message) error {
	body, err := marshalJSON(webexPayload{RoomID: w.roomID, Text: webexText(m)})
	if err != nil {
		return &Error{Err: err}
	}
	return w.p.post(ctx, request{url: w.url, contentType: contentJSON, header: w.auth, body: body, secrets: w.secrets})
}
