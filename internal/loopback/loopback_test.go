package loopback_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/loopback"
)

func TestAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.2:1": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.168.1.2:80": false, "example.com:80": false,
		"nonsense": false, "127.0.0.1": false,
	} {
		require.Equal(t, want, loopback.Addr(addr), addr)
	}
}

func TestHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.0.0.1:8080": true, "localhost": true, "localhost:8080": true, "[::1]:8080": true, "[::1]": true,
		"evil.example": false, "evil.example:8080": false, "localhost.evil.example": false, "10.0.0.1:8080": false, "": false,
		"127.0.0.1.nip.io": false,
	} {
		require.Equal(t, want, loopback.Host(host), host)
	}
}
