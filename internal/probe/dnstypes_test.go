package probe

import (
	"maps"
	"slices"
	"testing"

	"github.com/vigil-go/vigil/internal/config"
)

// TestDNSTypesMatchConfig keeps the record types the config accepts and
// those the DNS probe can ask for one list: a type the config allows but
// the probe lacks would be accepted at load and fail at every check.
func TestDNSTypesMatchConfig(t *testing.T) {
	probeTypes := slices.Sorted(maps.Keys(dnsTypes))
	configTypes := slices.Sorted(slices.Values(config.DNSTypes))
	if !slices.Equal(probeTypes, configTypes) {
		t.Fatalf("record types differ:\nconfig accepts %v\nprobe asks    %v", configTypes, probeTypes)
	}
}
