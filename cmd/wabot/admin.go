package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/store"
)

// errAuditBroken is returned (exit status 1) when verification fails.
var errAuditBroken = errors.New("audit log verification failed")

func runAdmin(ctx context.Context, logger *slog.Logger, cfg config.Config, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: admin hash|audit|roles|export|wipe|runs|schedule …", errUsage)
	}
	switch args[0] {
	case "hash":
		if len(args) != 2 {
			return fmt.Errorf("%w: admin hash <number-or-jid>", errUsage)
		}
		fmt.Fprintln(out, logging.NewHasher(cfg.Log.HashKey).Hash(args[1]))
		return nil
	case "audit":
		return runAdminAudit(ctx, cfg, args[1:], out)
	case "roles":
		return runAdminRoles(ctx, cfg, args[1:], out)
	}
	return runOperatorTask(ctx, logger, cfg, args, out)
}

func runAdminAudit(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	const usage = "admin audit verify | last [N]"
	if len(args) == 0 || len(args) > 2 {
		return fmt.Errorf("%w: %s", errUsage, usage)
	}
	pool, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer pool.Close()
	log := audit.New(pool, nil)
	switch {
	case args[0] == "verify" && len(args) == 1:
		res, err := log.Verify(ctx)
		if err != nil {
			return err
		}
		if !res.OK {
			fmt.Fprintf(out, "BROKEN at entry #%d (of %d checked): %s\n", res.FirstBad, res.Entries, res.Reason)
			return fmt.Errorf("%w: first broken entry #%d", errAuditBroken, res.FirstBad)
		}
		fmt.Fprintf(out, "OK: %d entries, hash chain intact\n", res.Entries)
		return nil
	case args[0] == "last":
		n := 10
		if len(args) == 2 {
			if n, err = strconv.Atoi(args[1]); err != nil || n < 1 {
				return fmt.Errorf("%w: %s (N a positive number)", errUsage, usage)
			}
		}
		recs, err := log.Last(ctx, n)
		if err != nil {
			return err
		}
		for _, r := range recs {
			fmt.Fprintf(out, "#%d %s %-22s %-7s actor=%s target=%s %v\n", r.Seq, r.At.Format("2006-01-02T15:04:05Z"),
				r.Action, r.Outcome, r.Actor, r.Target, r.Details)
		}
		return nil
	}
	return fmt.Errorf("%w: %s", errUsage, usage)
}

func runAdminRoles(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	const usage = "admin roles list | grant <number> <admin|operator> | revoke <number> <admin|operator>"
	if len(args) == 0 || (args[0] == "list") != (len(args) == 1) || (args[0] != "list" && len(args) != 3) {
		return fmt.Errorf("%w: %s", errUsage, usage)
	}
	pool, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer pool.Close()
	opts, err := redis.ParseURL(cfg.Redis.URL.Reveal())
	if err != nil {
		return errors.New("REDIS_URL: cannot parse it")
	}
	rdb := redis.NewClient(opts) // sessions only; not used by these commands
	defer func() { _ = rdb.Close() }()
	gov, err := governance.New(cfg.Gov, governance.Settings{}, pool, audit.New(pool, nil), logging.NewHasher(cfg.Log.HashKey), rdb, cfg.Redis.KeyPrefix)
	if err != nil {
		return err
	}
	if args[0] == "list" {
		members, err := gov.Roles(ctx)
		if err != nil {
			return err
		}
		for _, m := range members {
			fmt.Fprintf(out, "%-8s %s %s\n", m.Role, m.Label, m.Hash)
		}
		return nil
	}
	n, err := governance.ParseNumber(args[1])
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	r, err := governance.ParseRole(args[2])
	if err != nil || !r.Grantable() {
		return fmt.Errorf("%w: the role must be admin or operator", errUsage)
	}
	switch strings.ToLower(args[0]) {
	case "grant":
		if err := gov.Grant(ctx, audit.ActorOperator, n, r); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s is now %s\n", n.Label, r)
	case "revoke":
		had, err := gov.Revoke(ctx, audit.ActorOperator, n, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %s\n", n.Label, map[bool]string{true: "revoked", false: "did not have that role"}[had])
	default:
		return fmt.Errorf("%w: %s", errUsage, usage)
	}
	return nil
}
