package cluster

import (
	"testing"

	"github.com/vigil-go/vigil/internal/status"
)

func obs(hs ...status.Health) []Observation {
	var out []Observation
	for i, h := range hs {
		out = append(out, Observation{Member: string(rune('a' + i)), Health: h, Reason: h.String() + " reason"})
	}
	return out
}

func TestDecide(t *testing.T) {
	const H, S, D = status.Healthy, status.Sick, status.Dead
	tests := []struct {
		name    string
		cur     status.Health
		obs     []Observation
		need    int
		want    status.Health
		changed bool
	}{
		{"one of three sees dead, two needed", H, obs(D, H, H), 2, H, false},
		{"two of three see dead", H, obs(D, D, H), 2, D, true},
		{"dead and sick count towards sick", H, obs(D, S, H), 2, S, true},
		{"recovery needs confirmations too", D, obs(H, D, D), 2, D, false},
		{"recovery confirmed", D, obs(H, H, D), 2, H, true},
		{"partial recovery to sick", D, obs(S, H, D), 2, S, true},
		{"no observations: no change", D, nil, 2, D, false},
		{"too few live members to confirm", H, obs(D), 2, H, false},
		{"need below one counts as one", H, obs(D), 0, D, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, changed := decide(tt.cur, tt.obs, tt.need)
			if got != tt.want || changed != tt.changed {
				t.Fatalf("decide(%v, %d) = %v, %v; want %v, %v", tt.cur, tt.need, got, changed, tt.want, tt.changed)
			}
			if changed && got != H && reason != got.String()+" reason" {
				t.Errorf("reason = %q, want the reason of a member seeing %v", reason, got)
			}
		})
	}
}

func TestRequired(t *testing.T) {
	for _, tt := range []struct{ conf, live, want int }{{0, 1, 1}, {0, 2, 2}, {0, 3, 2}, {0, 4, 3}, {2, 5, 2}} {
		if got := required(tt.conf, tt.live); got != tt.want {
			t.Errorf("required(%d, %d) = %d, want %d", tt.conf, tt.live, got, tt.want)
		}
	}
}

func TestDescribeViews(t *testing.T) {
	got := status.DescribeViews([]status.View{
		{Label: "us-west", Health: status.Healthy},
		{Label: "eu-west", Health: status.Dead},
		{Label: "us-east", Health: status.Healthy},
	})
	if want := "dead from eu-west; healthy from us-east, us-west"; got != want {
		t.Errorf("DescribeViews = %q, want %q", got, want)
	}
}
