package notify

import (
	"context"
	"net/http"

	"github.com/vigil-go/vigil/internal/config"
)

// webex posts a message to a Webex room with a bearer token.
type webex struct {
	p       poster
	url     string
	auth    http.Header
	roomID  string
	secrets []string
}

func newWebex(c *config.Webex, o Options) (*webex, error) {
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
