package app

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/api/operatorservice/v1"

	"github.com/wabot/wabot/workflows"
)

// EnsureSearchAttributes registers the bot's search attributes on the
// namespace if they are missing, so operators can find runs by chat, kind,
// command and outcome. On Temporal Cloud this needs the cloud API instead; a
// refusal is logged, not fatal.
func EnsureSearchAttributes(ctx context.Context, d *Deps) error {
	ns := d.Config.Temporal.Namespace
	ops := d.Temporal.OperatorService()
	have, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		return fmt.Errorf("listing search attributes: %w", err)
	}
	missing := workflows.SearchAttributes()
	for name := range have.GetCustomAttributes() {
		delete(missing, name)
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: ns, SearchAttributes: missing}); err != nil {
		d.Logger.WarnContext(ctx, "registering search attributes failed; register them by hand (see README)", slog.Any("error", err))
		return nil
	}
	d.Logger.InfoContext(ctx, "search attributes registered", slog.Int("count", len(missing)))
	return nil
}
