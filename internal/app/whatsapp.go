package app

import (
	"context"
	"fmt"
	"io"

	"go.mau.fi/whatsmeow"

	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/internal/store"
)

// StartWhatsApp links (if needed) and connects the WhatsApp account of the
// configuration and starts its gateway. QR and pair codes go to out.
// Messages that arrive while wiring up wait until the gateway is ready.
func StartWhatsApp(ctx context.Context, d *Deps, out io.Writer) (*Gateway, *whatsmeow.Client, error) {
	cfg := d.Config.WhatsApp
	if err := store.EnsureDatabase(ctx, cfg.DatabaseURL.Reveal()); err != nil {
		return nil, nil, err
	}
	var gw *Gateway
	ready := make(chan struct{})
	handler := func(evt any) bool {
		<-ready
		return gw.HandleEvent(evt)
	}
	cli, err := gateway.ConnectWhatsApp(ctx, d.Logger, gateway.WhatsAppConfig{
		DatabaseURL: cfg.DatabaseURL.Reveal(), PairPhone: cfg.PairPhone, Out: out,
	}, handler)
	if err != nil {
		return nil, nil, err
	}
	// The same database, for wipes: whatsmeow's store has no API to forget a contact.
	waPool, err := store.Open(ctx, store.Config{URL: cfg.DatabaseURL, MaxConns: 2})
	if err != nil {
		cli.Disconnect()
		return nil, nil, fmt.Errorf("opening whatsmeow store for wipes: %w", err)
	}
	d.closers = append(d.closers, waPool.Close)
	forget := &gateway.StoreForgetter{DB: waPool, Contacts: cli.Store.Contacts}
	if gw, err = startGateway(d, cfg.Account, cli, gateway.WhatsmeowIdentity{Client: cli}, forget); err != nil {
		cli.Disconnect()
		return nil, nil, err
	}
	close(ready)
	return gw, cli, nil
}
