package message

// Document is a file the bot sends into a chat (for now: a data export).
// It names where the bytes are, never carries them.
type Document struct {
	Account  string // gateway account to send through
	Chat     string // chat JID
	ID       string // WhatsApp message ID, fixed before the first attempt
	ExportID string // the export whose ZIP to send
	FileName string
	Mimetype string
	Caption  string
}
