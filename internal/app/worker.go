package app

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/worker"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/workflows"
)

// NewAIWorker builds the worker of the AI task queue: every workflow and the
// AI/store activities. Start it with Start/Run.
func NewAIWorker(d *Deps) (worker.Worker, error) {
	lc, err := llm.New(d.Logger, d.Config.OpenAI)
	if err != nil {
		return nil, fmt.Errorf("building llm client: %w", err)
	}
	acts, err := activities.New(d.Logger, d.Config.Bot, d.Store, lc, nil)
	if err != nil {
		return nil, err
	}
	w := worker.New(d.Temporal, d.Config.Temporal.TaskQueue, AIWorkerOptions(d.Config.Temporal))
	w.RegisterWorkflow(workflows.ChatWorkflow)
	w.RegisterWorkflow(workflows.MessageWorkflow)
	w.RegisterActivity(acts)
	return w, nil
}

// AIWorkerOptions are the options of the AI task queue's worker. The
// benchmark's ceiling worker uses them too, so both are tuned alike.
func AIWorkerOptions(cfg config.Temporal) worker.Options {
	n := cfg.WorkerConcurrency
	return worker.Options{
		MaxConcurrentActivityExecutionSize:      n,
		MaxConcurrentWorkflowTaskExecutionSize:  n,
		MaxConcurrentLocalActivityExecutionSize: n,
	}
}

// StartAIWorker registers the search attributes if missing, then builds and
// starts the AI worker.
func StartAIWorker(ctx context.Context, d *Deps) (worker.Worker, error) {
	if err := EnsureSearchAttributes(ctx, d); err != nil {
		return nil, err
	}
	w, err := NewAIWorker(d)
	if err != nil {
		return nil, err
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
	gw, err := gateway.New(d.Logger, gateway.Config{
		Account:         account,
		TaskQueue:       d.Config.Temporal.TaskQueue,
		MaxOfflineAge:   d.Config.Gateway.MaxOfflineAge,
		ChatIdleTimeout: d.Config.Gateway.ChatIdleTimeout,
	}, d.Temporal, self, d.Hasher, nil)
	if err != nil {
		return nil, err
	}
	w := worker.New(d.Temporal, workflows.GatewayTaskQueue(account), worker.Options{
		MaxConcurrentActivityExecutionSize: d.Config.Temporal.WorkerConcurrency,
	})
	gateway.NewActivities(d.Logger, account, c, d.Store, d.Hasher).Register(w)
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
