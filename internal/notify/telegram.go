package notify

import (
	"context"
	"strconv"
	"strings"
)

// Telegram is [notify.telegram].
type Telegram struct {
	BotToken        string `toml:"bot_token" check:"secret"`
	ChatID          string `toml:"chat_id" check:"required"`
	MessageThreadID *int64 `toml:"message_thread_id"`
	APIURL          string `toml:"api_url" check:"optional-url" default:"https://api.telegram.org/"`
	Common
}

func (t *Telegram) targets(o Options) ([]Target, []string, error) { return single(newTelegram(t, o)) }

// telegram sends a message through the Telegram Bot API. The bot token is
// part of the URL path.
type telegram struct {
	p        poster
	url      string
	chatID   any // uint64 when chat_id is an unsigned integer, else the string
	threadID *int64
	secrets  []string
}

func newTelegram(c *Telegram, o Options) (*telegram, error) {
	base := c.APIURL
	if base == "" {
		base = "https://api.telegram.org/"
	}
	u, err := joinURL(base, "bot"+c.BotToken, "sendMessage")
	if err != nil {
		return nil, err
	}
	return &telegram{
		p:        o.poster(),
		url:      u.String(),
		chatID:   telegramChatID(c.ChatID),
		threadID: c.MessageThreadID,
		secrets:  []string{c.BotToken, escapeSegment(c.BotToken), u.String(), u.EscapedPath()},
	}, nil
}

// telegramChatID returns chat_id as a JSON number when it parses as an
// unsigned integer (a user id), else as a string ("@channel", "-100…"), as
// Vigil does.
func telegramChatID(s string) any {
	// Rust's u64 parser accepts one leading '+'.
	if n, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64); err == nil {
		return n
	}
	return s
}

type telegramPayload struct {
	ChatID                any    `json:"chat_id"`
	MessageThreadID       *int64 `json:"message_thread_id,omitempty"`
	Text                  string `json:"text"`
	ParseMode             string `json:"parse_mode"`
	DisableWebPagePreview bool   `json:"disable_web_page_preview"`
}

// Notify posts {"chat_id", "message_thread_id"?, "text", "parse_mode":
// "markdown", "disable_web_page_preview": true} to bot<token>/sendMessage.
func (t *telegram) Notify(ctx context.Context, m Message) error {
	body, err := marshalJSON(telegramPayload{
		ChatID:                t.chatID,
		MessageThreadID:       t.threadID,
		Text:                  telegramText(m),
		ParseMode:             "markdown",
		DisableWebPagePreview: true,
	})
	if err != nil {
		return &Error{Err: err}
	}
	return t.p.post(ctx, request{url: t.url, contentType: contentJSON, body: body, secrets: t.secrets})
}
