package gateway_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/testkit"
)

// The WhatsApp session lives in PostgreSQL: opening the gateway creates
// whatsmeow's store there (no files on disk). Linking itself needs WhatsApp's
// servers, which this machine cannot reach, so the test stops at the connect.
func TestWhatsAppSessionStoreIsPostgres(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	pool, dsn := testkit.EmptyPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cli, err := gateway.ConnectWhatsApp(ctx, logging.Discard(), gateway.WhatsAppConfig{DatabaseURL: dsn, Out: &out},
		func(any) bool { return true })
	if cli != nil {
		t.Cleanup(cli.Disconnect)
	}
	require.Error(t, err, "no route to WhatsApp from here")
	var tables int
	require.NoError(t, pool.QueryRow(t.Context(),
		`SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'whatsmeow_%'`).Scan(&tables))
	require.GreaterOrEqual(t, tables, 10)
}
