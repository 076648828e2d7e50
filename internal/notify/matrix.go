package notify

import (
	"context"
)

// Matrix is [notify.matrix].
type Matrix struct {
	HomeserverURL string `toml:"homeserver_url" check:"url"`
	AccessToken   string `toml:"access_token" check:"secret"`
	RoomID        string `toml:"room_id" check:"required"`
	Common
}

func (m *Matrix) targets(o Options) ([]Target, []string, error) { return single(newMatrix(m, o)) }

// matrix sends an m.room.message event through the Matrix client-server API
// (the legacy POST without a transaction id, with access_token in the query,
// as Vigil does).
type matrix struct {
	p       poster
	url     string
	secrets []string
}

func newMatrix(c *Matrix, o Options) (*matrix, error) {
	u, err := joinURL(c.HomeserverURL, "_matrix", "client", "r0", "rooms", c.RoomID, "send", "m.room.message")
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("access_token", c.AccessToken)
	u.RawQuery = q.Encode()
	return &matrix{p: o.poster(), url: u.String(), secrets: append([]string{c.AccessToken}, u.RawQuery, u.String())}, nil
}

type matrixPayload struct {
	Body          string `json:"body"`
	MsgType       string `json:"msgtype"`
	Format        string `json:"format"`
	FormattedBody string `json:"formatted_body"`
}

// Notify posts {"body", "msgtype": "m.text", "format":
// "org.matrix.custom.html", "formatted_body"}.
func (mx *matrix) Notify(ctx context.Context, m Message) error {
	body, err := marshalJSON(matrixPayload{
		Body:          matrixBody,
		MsgType:       "m.text",
		Format:        "org.matrix.custom.html",
		FormattedBody: matrixHTML(m),
	})
	if err != nil {
		return &Error{Err: err}
	}
	return mx.p.post(ctx, request{url: mx.url, contentType: contentJSON, body: body, secrets: mx.secrets})
}
