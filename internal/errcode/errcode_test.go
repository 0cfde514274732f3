package errcode_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/errcode"
)

func TestUserMessageEndsWithCode(t *testing.T) {
	t.Parallel()
	for _, c := range []errcode.Code{errcode.RateLimited, errcode.LLMUnavailable, errcode.Internal} {
		msg := errcode.UserMessage(c)
		require.True(t, strings.HasSuffix(msg, "(error "+string(c)+")"), msg)
	}
	require.Contains(t, errcode.UserMessage("NO_SUCH_CODE"), "(error INTERNAL)")
	require.False(t, errcode.Known("NO_SUCH_CODE"))
}

func TestOfFindsWrappedCode(t *testing.T) {
	t.Parallel()
	base := errcode.Wrap(errcode.LLMRejected, "chat completion", errors.New("status 400: secret internals"))
	wrapped := fmt.Errorf("llm turn: %w", base)
	require.Equal(t, errcode.LLMRejected, errcode.Of(wrapped))
	require.Equal(t, errcode.Internal, errcode.Of(errors.New("plain")))
	require.NotContains(t, base.UserText(), "internals")
}
