package message

import "time"

// MediaReply is one media message the bot sends: a voice note or an image.
// The bytes live in the blob store under BlobKey; only the key travels.
type MediaReply struct {
	Account  string
	Chat     string
	ID       string // WhatsApp message ID, fixed before the first attempt
	Kind     Kind   // KindVoice or KindImage
	BlobKey  string
	Mime     string
	Seconds  uint32 // voice notes: duration
	Waveform []byte // voice notes: 64 samples, 0–100
	Caption  string // images
	QuotedID string
	Quoted   string
	Answering
}

// FetchRequest asks the gateway to download one inbound message's media
// into the blob store.
type FetchRequest struct {
	Account   string
	Chat      string
	MessageID string
	Kind      Kind
	Media     Media
	ExpiresAt time.Time // the blob expires with the message
}

// FetchedMedia is where the downloaded media went.
type FetchedMedia struct {
	BlobKey string
	Mime    string
	Size    int
}

// BlobKey is the key of an inbound message's media: deterministic, so a
// retried download overwrites rather than duplicates.
func BlobKey(account, messageID string) string { return "in/" + account + "/" + messageID }

// ReplyBlobKey is the key of generated media for a reply.
func ReplyBlobKey(account, replyID string) string { return "out/" + account + "/" + replyID }
