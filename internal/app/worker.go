package app

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/ratelimit"
	"github.com/wabot/wabot/internal/tempdir"
	"github.com/wabot/wabot/workflows"
)

// NewAIWorker builds the worker of the AI task queue: every workflow and the
// AI/store activities. Start it with Start/Run.
func NewAIWorker(d *Deps) (worker.Worker, error) {
	lc, err := llm.New(d.Logger, d.Config.OpenAI)
	if err != nil {
		return nil, fmt.Errorf("building llm client: %w", err)
	}
	gov, err := NewGovernor(d)
	if err != nil {
		return nil, err
	}
	limits, err := ratelimit.New(d.Redis, d.Config.Redis.KeyPrefix)
	if err != nil {
		return nil, err
	}
	comp, err := NewCompliance(d, gov)
	if err != nil {
		return nil, err
	}
	acts, err := activities.New(d.Logger, d.Config.Bot, activities.Deps{
		Store: d.Store, LLM: lc, Governor: gov, Limiter: limits, Compliance: comp,
	})
	if err != nil {
		return nil, err
	}
	tmp, err := tempdir.New(d.Logger, d.Config.Media.TempDir)
	if err != nil {
		return nil, err
	}
	media, err := activities.NewMedia(d.Logger, d.Config.Media, d.Config.Bot, activities.MediaDeps{
		Store: d.Store, LLM: lc, TempDir: tmp, Settings: gov,
	})
	if err != nil {
		_ = tmp.Close()
		return nil, err
	}
	SetStickyCacheSize(d.Config.Temporal)
	w := worker.New(d.Temporal, d.Config.Temporal.TaskQueue, AIWorkerOptions(d.Config.Temporal))
	w.RegisterWorkflow(workflows.ChatWorkflow)
	w.RegisterWorkflow(workflows.MessageWorkflow)
	w.RegisterActivity(acts)
	w.RegisterActivity(media)
	RegisterCompliance(w, comp)
	return aiWorker{Worker: w, tmp: tmp}, nil
}

// aiWorker removes the process's media temp directory when it stops (on
// SIGTERM, cmd/ stops the worker; a crash leaves it to the next start's sweep).
type aiWorker struct {
	worker.Worker
	tmp *tempdir.Root
}

// Stop stops the worker, then removes the temp directory.
func (w aiWorker) Stop() {
	w.Worker.Stop()
	_ = w.tmp.Close()
}

// AIWorkerOptions are the options of the AI task queue's worker. The
// benchmark's ceiling worker uses them too, so both are tuned alike.
func AIWorkerOptions(cfg config.Temporal) worker.Options {
	n := cfg.WorkerConcurrency
	opts := worker.Options{
		MaxConcurrentActivityExecutionSize:      n,
		MaxConcurrentWorkflowTaskExecutionSize:  n,
		MaxConcurrentLocalActivityExecutionSize: n,
	}
	switch {
	case cfg.Pollers > 0:
		opts.MaxConcurrentWorkflowTaskPollers, opts.MaxConcurrentActivityTaskPollers = cfg.Pollers, cfg.Pollers
	case cfg.Pollers < 0:
		opts.WorkflowTaskPollerBehavior = worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
		opts.ActivityTaskPollerBehavior = worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
	}
	return opts
}

// SetStickyCacheSize sizes the process's sticky workflow cache
// (TEMPORAL_STICKY_CACHE_SIZE; 0 keeps the SDK's default). The SDK reads it
// when the first worker starts, so call it before.
func SetStickyCacheSize(cfg config.Temporal) {
	if cfg.StickyCacheSize > 0 {
		worker.SetStickyWorkflowCacheSize(cfg.StickyCacheSize)
	}
}

// StartAIWorker registers the search attributes if missing, builds the AI
// worker, creates or updates the compliance schedules (COMPLIANCE_SCHEDULES)
// and starts the worker.
func StartAIWorker(ctx context.Context, d *Deps) (worker.Worker, error) {
	if err := EnsureSearchAttributes(ctx, d); err != nil {
		return nil, err
	}
	w, err := NewAIWorker(d)
	if err != nil {
		return nil, err
	}
	if d.Config.Compliance.Schedules {
		// Not fatal: without its schedules the worker still answers messages;
		// operators see the error and create them (README, Runbook).
		if err := EnsureSchedules(ctx, d); err != nil {
			d.Logger.ErrorContext(ctx, "creating compliance schedules failed", slog.Any("error", err))
		}
	}
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("starting worker: %w", err)
	}
	return w, nil
}

// Gateway is a running gateway: the handler for transport events and the
// worker of its task queue.
type Gateway struct {
	*gateway.Gateway
	Worker worker.Worker
}

// StartGateway builds a gateway for account over c and starts its worker.
func StartGateway(d *Deps, account string, c gateway.Client, self gateway.Identity) (*Gateway, error) {
	return startGateway(d, account, c, self, nil)
}

// startGateway is StartGateway with the transport's own store, which a wipe
// makes forget the person (nil: the transport stores nothing).
func startGateway(d *Deps, account string, c gateway.Client, self gateway.Identity, forget *gateway.StoreForgetter) (*Gateway, error) {
	gw, err := gateway.New(d.Logger, gateway.Config{
		Account:         account,
		TaskQueue:       d.Config.Temporal.TaskQueue,
		MaxOfflineAge:   d.Config.Gateway.MaxOfflineAge,
		ChatIdleTimeout: d.Config.Gateway.ChatIdleTimeout,
		ViewOnce:        d.Config.Gateway.ViewOnce,
		BurstWindow:     d.Config.Gateway.BurstWindow,
		BurstMax:        d.Config.Gateway.BurstMax,
		TakeoverPause:   d.Config.Gateway.TakeoverPause,
	}, d.Temporal, self, d.Hasher, nil)
	if err != nil {
		return nil, err
	}
	receipts := gateway.NewReceipts(d.Logger, c, d.Config.Gateway.AckReaction, d.Hasher)
	gw.WithReceipts(receipts).WithOwnSends(d.Store)
	w := worker.New(d.Temporal, workflows.GatewayTaskQueue(account), worker.Options{
		MaxConcurrentActivityExecutionSize: d.Config.Temporal.WorkerConcurrency,
		Interceptors:                       []interceptor.WorkerInterceptor{gateway.Heartbeats()},
	})
	acts := gateway.NewActivities(d.Logger, account, c, d.Store, d.Hasher).WithExports(d.Store).WithReceipts(receipts)
	if forget != nil {
		acts.WithForgetter(forget)
	}
	acts.Register(w)
	gateway.NewMediaActivities(d.Logger, c, d.Store, d.Store, d.Hasher, gateway.MediaLimits{
		Audio: d.Config.Media.MaxAudioBytes, Image: d.Config.Media.MaxImageBytes, Document: d.Config.Media.MaxDocumentBytes,
	}).WithReceipts(receipts).Register(w)
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("starting gateway worker: %w", err)
	}
	d.Health.Add("transport_"+account, func(context.Context) error {
		if !c.IsConnected() {
			return fmt.Errorf("%s transport is not connected", account)
		}
		return nil
	})
	return &Gateway{Gateway: gw, Worker: w}, nil
}
