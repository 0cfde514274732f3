package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/testkit"
)

// person is a WhatsApp user as whatsmeow's store knows them: a phone JID and a LID.
type person struct{ pn, lid types.JID }

// remember fills every per-person table of whatsmeow's store through
// whatsmeow's own API, as a running client does while chatting.
func remember(ctx context.Context, t *testing.T, dev *store.Device, p person, group types.JID) {
	t.Helper()
	require.NoError(t, dev.LIDs.PutLIDMapping(ctx, p.lid, p.pn))
	_, _, err := dev.Contacts.PutPushName(ctx, p.pn, "Push "+p.pn.User)
	require.NoError(t, err)
	_, _, err = dev.Contacts.PutBusinessName(ctx, p.lid, "Business "+p.pn.User)
	require.NoError(t, err)
	require.NoError(t, dev.Contacts.PutContactName(ctx, p.pn, "First", "Full "+p.pn.User))
	require.NoError(t, dev.ChatSettings.PutMutedUntil(ctx, p.pn, time.Now().Add(time.Hour)))
	require.NoError(t, dev.ChatSettings.PutPinned(ctx, p.lid, true))
	require.NoError(t, dev.PrivacyTokens.PutPrivacyTokens(ctx, store.PrivacyToken{User: p.pn, Token: []byte("tok"), Timestamp: time.Now()}))
	require.NoError(t, dev.MsgSecrets.PutMessageSecret(ctx, p.pn, p.pn, "MSG1", []byte("secret")))
	require.NoError(t, dev.MsgSecrets.PutMessageSecret(ctx, group, p.lid, "MSG2", []byte("secret")))
	for _, j := range []types.JID{p.pn, p.lid} {
		addr := j.SignalAddress().String()
		require.NoError(t, dev.Sessions.PutSession(ctx, addr, []byte("session")))
		require.NoError(t, dev.Identities.PutIdentity(ctx, addr, [32]byte{1}))
		require.NoError(t, dev.SenderKeys.PutSenderKey(ctx, group.String(), addr, []byte("sender key")))
	}
}

// mentions counts, per whatsmeow table, the rows whose text mentions any of
// the given strings: a scan of every table, not of the ones Forget knows.
func mentions(ctx context.Context, t *testing.T, pool *pgxpool.Pool, needles ...string) map[string]int {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'whatsmeow\_%' ORDER BY 1`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.GreaterOrEqual(t, len(tables), 12)
	out := map[string]int{}
	for _, table := range tables {
		var conds []string
		for _, n := range needles {
			conds = append(conds, "row_to_json(t)::text LIKE '%"+n+"%'")
		}
		var count int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+table+" t WHERE "+strings.Join(conds, " OR ")).Scan(&count))
		if count > 0 {
			out[table] = count
		}
	}
	return out
}

// A wipe makes whatsmeow's own store forget the person — contact names,
// chat settings, privacy token, message secrets, sessions, identity and
// sender keys, the LID mapping — found by phone JID or by LID, and leaves
// another person with the same kinds of records untouched. Twice is a no-op.
func TestStoreForgetterForgetsOnePerson(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := t.Context()
	pool, dsn := testkit.EmptyPostgres(t)
	container, err := sqlstore.New(ctx, "pgx", dsn, logging.Whatsmeow(logging.Discard(), "store"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = container.Close() })
	dev := container.NewDevice()
	dev.ID = &types.JID{User: "4930000001", Device: 7, Server: types.DefaultUserServer}
	dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte{1},
		AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
	require.NoError(t, container.PutDevice(ctx, dev))

	group := types.NewJID("120363000000000001", types.GroupServer)
	alice := person{types.NewJID("4915112345678", types.DefaultUserServer), types.NewJID("98765432101234", types.HiddenUserServer)}
	bob := person{types.NewJID("4917698765432", types.DefaultUserServer), types.NewJID("12345678909876", types.HiddenUserServer)}
	remember(ctx, t, dev, alice, group)
	remember(ctx, t, dev, bob, group)
	bobBefore := mentions(ctx, t, pool, bob.pn.User, bob.lid.User)
	require.Len(t, mentions(ctx, t, pool, alice.pn.User, alice.lid.User), len(bobBefore), "alice is seeded like bob")
	require.Len(t, bobBefore, 8, "every per-person table holds bob: %v", bobBefore)

	f := &gateway.StoreForgetter{DB: pool, Contacts: dev.Contacts}
	// By LID: the phone number is found through the LID map, and back.
	n, err := f.Forget(ctx, alice.lid)
	require.NoError(t, err)
	require.Empty(t, mentions(ctx, t, pool, alice.pn.User, alice.lid.User))
	require.Equal(t, bobBefore, mentions(ctx, t, pool, bob.pn.User, bob.lid.User), "bob's records are untouched")
	require.Positive(t, n)
	// The live client's cache forgot her names too.
	info, err := dev.Contacts.GetContact(ctx, alice.pn)
	require.NoError(t, err)
	require.Empty(t, info.PushName+info.FullName+info.FirstName+info.BusinessName)

	n, err = f.Forget(ctx, alice.pn)
	require.NoError(t, err)
	require.Zero(t, n, "forgetting again deletes nothing")

	// By phone JID, with device suffix as it may come in.
	n, err = f.Forget(ctx, types.JID{User: bob.pn.User, Device: 3, Server: types.DefaultUserServer})
	require.NoError(t, err)
	require.Positive(t, n)
	require.Empty(t, mentions(ctx, t, pool, bob.pn.User, bob.lid.User))
	var device int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM whatsmeow_device`).Scan(&device))
	require.Equal(t, 1, device, "the bot's own device stays")
}

// The activity refuses a malformed person and is a no-op for a transport
// without a store of its own (the local chat page).
func TestForgetContactActivity(t *testing.T) {
	t.Parallel()
	a := gateway.NewActivities(logging.Discard(), "acct", nil, nil, hasher)
	n, err := a.ForgetContact(t.Context(), "4915112345678@s.whatsapp.net")
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = a.ForgetContact(t.Context(), "")
	require.ErrorContains(t, err, "bad person jid")
}
