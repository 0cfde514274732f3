package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	const pw = "p@ss/wörd 1"
	cause := fmt.Errorf("dialing: %w", context.DeadlineExceeded)
	tests := []string{
		"raw " + pw,
		"query p%40ss%2Fw%C3%B6rd+1",
		"path p%40ss%2Fw%C3%B6rd%201",
		"userinfo postgres://u:p%40ss%2Fw%C3%B6rd%201@h/db",
	}
	for _, msg := range tests {
		err := redact(fmt.Errorf("%s: %w", msg, cause), pw)
		require.NotContains(t, err.Error(), pw)
		require.Contains(t, err.Error(), "********", msg)
		require.ErrorIs(t, err, context.DeadlineExceeded, "the cause survives")
	}
	require.NoError(t, redact(nil, pw))
	plain := errors.New("x")
	require.Equal(t, plain, redact(plain, ""))
}
