// Package errcode is the bot's error taxonomy: stable codes that operators see
// in logs and workflow failures, each mapped to one short, friendly message for
// the WhatsApp user. Internal causes never reach the user.
package errcode

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. It doubles as the Temporal
// ApplicationError type, so operators can filter failures by it.
type Code string

// The codes. Never rename one: dashboards, alerts and users' screenshots name them.
const (
	RateLimited      Code = "RATE_LIMITED"
	Forbidden        Code = "FORBIDDEN"
	SessionRequired  Code = "SESSION_REQUIRED"
	InvalidArgument  Code = "INVALID_ARGUMENT"
	UnknownCommand   Code = "UNKNOWN_COMMAND"
	FileTooLarge     Code = "FILE_TOO_LARGE"
	UnsupportedMedia Code = "UNSUPPORTED_MEDIA"
	ViewOnce         Code = "VIEW_ONCE"
	MediaExpired     Code = "MEDIA_EXPIRED"
	MediaCorrupt     Code = "MEDIA_CORRUPT"
	LLMUnavailable   Code = "LLM_UNAVAILABLE"
	LLMRejected      Code = "LLM_REJECTED"
	LLMRefused       Code = "LLM_REFUSED"
	Busy             Code = "BUSY"
	Internal         Code = "INTERNAL"
)

var userMessages = map[Code]string{
	RateLimited:      "You're sending messages faster than I can answer. Please wait a moment and try again.",
	Forbidden:        "Sorry, you're not allowed to do that.",
	SessionRequired:  "This needs an admin session. Send /sudo first.",
	InvalidArgument:  "That command doesn't look right. Send /help for usage.",
	UnknownCommand:   "I don't know that command. Send /help to see what I can do.",
	FileTooLarge:     "That file is too large for me.",
	UnsupportedMedia: "I can't handle that kind of message yet.",
	ViewOnce:         "I don't open view-once media: it's meant to be seen once, by a person. Send it as a normal message if you'd like me to look at it.",
	MediaExpired:     "I couldn't download that file any more. Please send it again.",
	MediaCorrupt:     "I couldn't read that file. Is it damaged?",
	LLMUnavailable:   "My AI service is unavailable right now. Please try again in a few minutes.",
	LLMRejected:      "My AI service couldn't handle that request.",
	LLMRefused:       "I can't help with that request.",
	Busy:             "I'm very busy right now; I'll answer as soon as I can.",
	Internal:         "Something went wrong on my side.",
}

// UserMessage is the short, friendly text a user sees for code, ending with
// the code itself so support can find the cause.
func UserMessage(c Code) string {
	msg, ok := userMessages[c]
	if !ok {
		msg, c = userMessages[Internal], Internal
	}
	return fmt.Sprintf("%s (error %s)", msg, c)
}

// Known reports whether c is one of the codes above.
func Known(c Code) bool {
	_, ok := userMessages[c]
	return ok
}

// Error is an error with a stable code. Msg is for operators; the user sees
// UserMessage(Code), optionally followed by Detail (which must hold no
// internals, e.g. a usage line or a retry time).
type Error struct {
	Code   Code
	Msg    string
	Detail string
	Err    error
}

// New returns an *Error with a code and an operator-facing message.
func New(c Code, msg string) *Error { return &Error{Code: c, Msg: msg} }

// Wrap returns an *Error with a code that wraps err.
func Wrap(c Code, msg string, err error) *Error { return &Error{Code: c, Msg: msg, Err: err} }

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// UserText is what the user sees for this error.
func (e *Error) UserText() string {
	if e.Detail == "" {
		return UserMessage(e.Code)
	}
	return UserMessage(e.Code) + "\n" + e.Detail
}

// Of returns the code of the first *Error in err's chain, or Internal.
func Of(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return Internal
}
