package status

import "testing"

func TestRedacted(t *testing.T) {
	for _, tt := range []struct{ id, want string }{
		{"https://ops:hunter2@api.example.com/health?api_key=k", "https://ops:xxxxx@api.example.com/health?api_key=k"},
		{"tcp://admin:p%40ss@db:5432", "tcp://admin:xxxxx@db:5432"},
		{"https://ops@api.example.com/", "https://ops@api.example.com/"}, // a user name alone is no secret
		{"https://api.example.com/health", "https://api.example.com/health"},
		{"web-1", "web-1"},
		{"a@b", "a@b"},
		// Unparsable (a space in the host), as config errors show it.
		{"http://ops:hunter2@ho st/x", "http://ops:xxxxx@ho st/x"},
	} {
		if got := Redacted(tt.id); got != tt.want {
			t.Errorf("Redacted(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}
