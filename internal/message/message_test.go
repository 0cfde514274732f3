package message_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/message"
)

func TestReplyIDIsStableAndDistinct(t *testing.T) {
	t.Parallel()
	a := message.ReplyID("acct", "ABC", 0)
	require.Equal(t, a, message.ReplyID("acct", "ABC", 0))
	require.NotEqual(t, a, message.ReplyID("acct", "ABC", 1))
	require.NotEqual(t, a, message.ReplyID("acct", "ABD", 0))
	require.NotEqual(t, a, message.ReplyID("other", "ABC", 0))
	require.Regexp(t, regexp.MustCompile(`^3EB0[0-9A-F]{18}$`), a)
}
