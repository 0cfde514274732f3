package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for whatsmeow's store
	"github.com/mdp/qrterminal/v3"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"

	"github.com/wabot/wabot/internal/logging"
)

// WhatsAppConfig is what linking and connecting need.
type WhatsAppConfig struct {
	DatabaseURL string    // whatsmeow's own PostgreSQL database: no session files on disk
	PairPhone   string    // link with a pair code for this number instead of a QR code
	Out         io.Writer // where the QR code or pair code is printed (a terminal)
}

// ConnectWhatsApp opens whatsmeow's PostgreSQL store, links the number if the
// store holds no session yet (QR code or pair code printed to cfg.Out), and
// connects with auto-reconnect. handler runs synchronously for each event and
// its result decides the ack: whatsmeow acks a message only when it returns true.
func ConnectWhatsApp(ctx context.Context, logger *slog.Logger, cfg WhatsAppConfig, handler whatsmeow.EventHandlerWithSuccessStatus) (*whatsmeow.Client, error) {
	logging.SetSignalLogger(logger)
	container, err := sqlstore.New(ctx, "pgx", cfg.DatabaseURL, logging.Whatsmeow(logger, "store"))
	if err != nil {
		return nil, fmt.Errorf("opening whatsmeow store: %w", err)
	}
	device, err := container.GetFirstDevice(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading whatsmeow device: %w", err)
	}
	cli := whatsmeow.NewClient(device, logging.Whatsmeow(logger, "client"))
	cli.EnableAutoReconnect = true
	cli.SynchronousAck = true             // ack only after our handler returned true
	cli.EnableDecryptedEventBuffer = true // a redelivered message stays decryptable
	cli.AddEventHandlerWithSuccessStatus(handler)

	if cli.Store.ID != nil {
		if err := cli.Connect(); err != nil {
			return nil, fmt.Errorf("connecting to whatsapp: %w", err)
		}
		return cli, nil
	}
	return cli, link(ctx, logger, cli, cfg)
}

// link pairs a new device by QR code or pair code.
func link(ctx context.Context, logger *slog.Logger, cli *whatsmeow.Client, cfg WhatsAppConfig) error {
	qr, err := cli.GetQRChannel(ctx)
	if err != nil {
		return fmt.Errorf("getting qr channel: %w", err)
	}
	if err := cli.Connect(); err != nil {
		return fmt.Errorf("connecting to whatsapp: %w", err)
	}
	if cfg.PairPhone != "" {
		code, err := cli.PairPhone(ctx, cfg.PairPhone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
		if err != nil {
			return fmt.Errorf("requesting pair code: %w", err)
		}
		fmt.Fprintf(cfg.Out, "\nOn your phone: WhatsApp → Linked devices → Link with phone number → enter %s\n\n", code)
	}
	for item := range qr {
		switch item.Event {
		case "code":
			if cfg.PairPhone == "" {
				fmt.Fprintln(cfg.Out, "\nScan with WhatsApp → Linked devices → Link a device:")
				qrterminal.GenerateHalfBlock(item.Code, qrterminal.L, cfg.Out)
			}
		case "success":
			logger.InfoContext(ctx, "whatsapp linked")
			return nil
		case "timeout":
			return errors.New("linking timed out: start again for a new code")
		case "error":
			return fmt.Errorf("linking failed: %w", item.Error)
		default:
			logger.WarnContext(ctx, "linking event", slog.String("event", item.Event))
		}
	}
	if !cli.IsLoggedIn() {
		return errors.New("linking ended without success")
	}
	return nil
}
