package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.temporal.io/sdk/temporal"

	"github.com/wabot/wabot/internal/errcode"
)

// StoreForgetter deletes what whatsmeow's own store (WHATSAPP_DATABASE_URL)
// keeps about one person: their contact names, chat settings, privacy
// tokens, message secrets, Signal sessions, identity and sender keys, and
// their phone-number↔LID mapping. A wipe runs it last, after the final
// notice went out: sending that notice would otherwise create a new session.
//
// whatsmeow's decrypted-event buffer is not touched: its rows carry no
// sender, and whatsmeow clears their plaintext as soon as the gateway
// accepted the message (and deletes the rows after 14 days).
type StoreForgetter struct {
	DB *pgxpool.Pool
	// Contacts, when set (the live client's store), first blanks the
	// person's names through whatsmeow's API so its in-memory contact cache
	// forgets them too.
	Contacts store.ContactStore
}

// forgetStatements delete one person's rows: @jids are their JIDs (phone
// and LID, as text), @addrs LIKE patterns of their Signal addresses, @pn and
// @lid the user parts of the phone number and the LID. Rows of every device
// in the store go: the database belongs to the bot.
var forgetStatements = []string{
	`DELETE FROM whatsmeow_contacts WHERE their_jid = ANY(@jids)`,
	`DELETE FROM whatsmeow_chat_settings WHERE chat_jid = ANY(@jids)`,
	`DELETE FROM whatsmeow_privacy_tokens WHERE their_jid = ANY(@jids)`,
	`DELETE FROM whatsmeow_message_secrets WHERE chat_jid = ANY(@jids) OR sender_jid = ANY(@jids)`,
	`DELETE FROM whatsmeow_sessions WHERE their_id LIKE ANY(@addrs)`,
	`DELETE FROM whatsmeow_identity_keys WHERE their_id LIKE ANY(@addrs)`,
	`DELETE FROM whatsmeow_sender_keys WHERE sender_id LIKE ANY(@addrs)`,
	`DELETE FROM whatsmeow_lid_map WHERE pn = @pn OR lid = @lid`,
}

// Forget deletes the person's rows in one transaction and returns how many
// went. Forgetting someone already forgotten deletes nothing.
func (f *StoreForgetter) Forget(ctx context.Context, person types.JID) (int64, error) {
	pn, lid, err := f.counterpart(ctx, person.ToNonAD())
	if err != nil {
		return 0, err
	}
	var jids, addrs []string
	for _, j := range []types.JID{pn, lid} {
		if j.IsEmpty() {
			continue
		}
		jids = append(jids, j.String())
		// Signal addresses are "<user>:<device>" or, with an agent (LIDs),
		// "<user>_<agent>:<device>"; "_" is escaped to mean itself.
		addrs = append(addrs, j.User+":%", j.User+`\_%:%`)
		if f.Contacts != nil {
			if err := f.blankNames(ctx, j); err != nil {
				return 0, err
			}
		}
	}
	args := pgx.NamedArgs{"jids": jids, "addrs": addrs, "pn": pn.User, "lid": lid.User}
	var total int64
	err = pgx.BeginFunc(ctx, f.DB, func(tx pgx.Tx) error {
		for _, q := range forgetStatements {
			tag, err := tx.Exec(ctx, q, args)
			if err != nil {
				return fmt.Errorf("forgetting in whatsmeow store: %w", err)
			}
			total += tag.RowsAffected()
		}
		return nil
	})
	return total, err
}

// counterpart finds the person's other JID (LID for a phone JID and back)
// in whatsmeow's LID map.
func (f *StoreForgetter) counterpart(ctx context.Context, j types.JID) (pn, lid types.JID, err error) {
	var other string
	switch j.Server {
	case types.DefaultUserServer:
		pn = j
		err = f.DB.QueryRow(ctx, `SELECT lid FROM whatsmeow_lid_map WHERE pn = $1`, j.User).Scan(&other)
		lid = types.NewJID(other, types.HiddenUserServer)
	case types.HiddenUserServer:
		lid = j
		err = f.DB.QueryRow(ctx, `SELECT pn FROM whatsmeow_lid_map WHERE lid = $1`, j.User).Scan(&other)
		pn = types.NewJID(other, types.DefaultUserServer)
	default:
		return types.EmptyJID, types.EmptyJID, temporal.NewNonRetryableApplicationError(
			"not a person's JID", string(errcode.InvalidArgument), nil)
	}
	switch {
	case err == nil:
	case errors.Is(err, pgx.ErrNoRows):
		err = nil
		if pn == j {
			lid = types.EmptyJID
		} else {
			pn = types.EmptyJID
		}
	default:
		err = fmt.Errorf("reading whatsmeow lid map: %w", err)
	}
	return pn, lid, err
}

// blankNames empties the person's names through whatsmeow's contact store,
// which updates its cache as well as the row (the row is deleted next).
func (f *StoreForgetter) blankNames(ctx context.Context, j types.JID) error {
	if _, _, err := f.Contacts.PutPushName(ctx, j, ""); err != nil {
		return fmt.Errorf("blanking push name: %w", err)
	}
	if _, _, err := f.Contacts.PutBusinessName(ctx, j, ""); err != nil {
		return fmt.Errorf("blanking business name: %w", err)
	}
	if err := f.Contacts.PutContactName(ctx, j, "", ""); err != nil {
		return fmt.Errorf("blanking contact name: %w", err)
	}
	return nil
}

// forgetter is what the ForgetContact activity needs; nil when the transport
// keeps nothing of its own (the local chat page).
type forgetter interface {
	Forget(ctx context.Context, person types.JID) (int64, error)
}

// WithForgetter lets ForgetContact delete the transport's own records.
func (a *Activities) WithForgetter(f forgetter) *Activities {
	a.forget = f
	return a
}

// ForgetContact deletes what the transport itself stores about a person (see
// StoreForgetter) and returns the number of records deleted. It is
// idempotent.
func (a *Activities) ForgetContact(ctx context.Context, subject string) (int64, error) {
	person, err := types.ParseJID(subject)
	if err != nil || person.User == "" {
		return 0, temporal.NewNonRetryableApplicationError("bad person jid", string(errcode.InvalidArgument), err)
	}
	if a.forget == nil {
		return 0, nil
	}
	n, err := a.forget.Forget(ctx, person)
	if err != nil {
		return 0, err
	}
	a.logger.InfoContext(ctx, "transport store forgot a person", slog.String("chat_hash", a.hasher.Hash(subject)), slog.Int64("records", n))
	return n, nil
}
