package gateway

import (
	"context"

	"go.temporal.io/sdk/interceptor"

	"github.com/wabot/wabot/activities"
)

// Heartbeats is the gateway worker's interceptor: every activity it runs
// heartbeats every second (activities.Heartbeat) until it returns. With a
// heartbeat timeout in the workflows' options (sendOptions, fetchOptions), a
// send or download whose gateway crashed, or stopped after it had taken the
// task, is retried within seconds instead of after its start-to-close
// timeout, which must be long enough for a slow upload.
func Heartbeats() interceptor.WorkerInterceptor { return &heartbeats{} }

type heartbeats struct {
	interceptor.WorkerInterceptorBase
}

func (*heartbeats) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &heartbeatingActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}}
}

type heartbeatingActivity struct {
	interceptor.ActivityInboundInterceptorBase
}

func (a *heartbeatingActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	stop := activities.Heartbeat(ctx)
	defer stop()
	return a.Next.ExecuteActivity(ctx, in)
}
