// Command wabot is the production binary of the WhatsApp AI bot. Its
// subcommands run the gateway (WhatsApp socket + gateway worker), the worker
// (workflows + AI activities), schema migrations, operator tasks and a
// printout of the effective configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/logging"
)

const usage = `usage: wabot <command> [arguments]

commands:
  gateway            connect WhatsApp (QR or pair code on first start) and run the gateway worker
  worker             run the workflow and AI activity worker
  migrate up|down [N]|status
                     apply, roll back (N steps, default 1) or list schema migrations
  config [--vars]    print the effective configuration (secrets masked), or every variable
  admin hash <number-or-jid>
                     print the hash under which a chat appears in logs and in the Web UI
  admin audit verify check the audit log's whole hash chain; names the first broken entry (exit 1)
  admin audit last [N]
                     print the newest N (10) audit entries
  admin roles list | grant <number> <admin|operator> | revoke <number> <admin|operator>
                     list or change roles (audited as "operator")
  admin export <number> [file.zip]
                     export everything stored about a person into a ZIP (progress bar)
  admin wipe <number> --yes
                     delete everything about a person: rows, Redis keys, Temporal histories
  admin runs failed [--chat <number>] [--kind <kind>] [--command <command>]
                     list failed or timed-out workflow runs
  admin runs retry <workflow-id> [run-id]
                     reset a run to its first workflow task (runs it again)
  admin schedule trigger|pause|unpause retention|audit
                     run a compliance schedule now, or pause/unpause it

Configuration comes from environment variables; see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wabot:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("bad usage")

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	cmd, args := args[0], args[1:]
	if cmd == "config" && len(args) > 0 && args[0] == "--vars" {
		return printVariables(stdout)
	}
	cfg, err := config.Load(os.Environ())
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.Log)
	switch cmd {
	case "gateway":
		return runGateway(ctx, logger, cfg, stdout)
	case "worker":
		return runWorker(ctx, logger, cfg)
	case "migrate":
		return runMigrate(ctx, cfg, args, stdout)
	case "config":
		return cfg.Print(stdout)
	case "admin":
		return runAdmin(ctx, logger, cfg, args, stdout)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
}

func printVariables(w io.Writer) error {
	vars, err := config.Variables()
	if err != nil {
		return err
	}
	for _, v := range vars {
		fmt.Fprintf(w, "%s=%s\n", v.Key, v.DefaultValue)
	}
	return nil
}
