package devtemporal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// waitNamespace waits until the frontend answers and knows the namespace.
func (s *Server) waitNamespace(ctx context.Context) error {
	client := workflowservice.NewWorkflowServiceClient(s.conn)
	return poll(ctx, func(ctx context.Context) error {
		_, err := client.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.cfg.Namespace})
		return err
	}, "waiting for namespace "+s.cfg.Namespace)
}

// ensureSearchAttributes registers the configured search attributes that the namespace lacks.
// A new namespace already has them (createNamespace); an existing database needs them added
// through the operator API. An attribute that exists with another type is an error.
func (s *Server) ensureSearchAttributes(ctx context.Context) error {
	if len(s.cfg.SearchAttributes) == 0 {
		return nil
	}
	operator := operatorservice.NewOperatorServiceClient(s.conn)
	listed, err := operator.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.cfg.Namespace})
	if err != nil {
		return fmt.Errorf("listing search attributes of namespace %s: %w", s.cfg.Namespace, err)
	}
	missing, err := missingSearchAttributes(s.cfg.SearchAttributes, listed)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := operator.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        s.cfg.Namespace,
		SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("adding search attributes %v to namespace %s: %w", slices.Sorted(maps.Keys(missing)), s.cfg.Namespace, err)
	}
	added := time.Now()
	if err := s.waitSearchAttributes(ctx, missing); err != nil {
		return err
	}
	// The frontend knows the new aliases now. The other services reload namespaces on their own
	// timer: one full refresh interval after the write (plus the time a refresh takes), they know them too.
	if err := sleepUntil(ctx, added.Add(2*namespaceRefreshInterval)); err != nil {
		return fmt.Errorf("waiting for search attributes to reach every service: %w", err)
	}
	s.logger.InfoContext(ctx, "temporal_search_attributes_added",
		slog.String("namespace", s.cfg.Namespace),
		slog.Any("search_attributes", slices.Sorted(maps.Keys(missing))))
	return nil
}

// missingSearchAttributes returns the wanted attributes the namespace lacks.
func missingSearchAttributes(
	want map[string]enums.IndexedValueType,
	listed *operatorservice.ListSearchAttributesResponse,
) (map[string]enums.IndexedValueType, error) {
	missing := make(map[string]enums.IndexedValueType)
	var errs []error
	for name, typ := range want {
		if _, ok := listed.GetSystemAttributes()[name]; ok {
			errs = append(errs, fmt.Errorf("search attribute %s: the name is a system attribute", name))
			continue
		}
		existing, ok := listed.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = typ
		case existing != typ:
			errs = append(errs, fmt.Errorf("search attribute %s: exists as %s, configured as %s", name, existing, typ))
		}
	}
	return missing, errors.Join(errs...)
}

// waitSearchAttributes waits until the frontend accepts a visibility query on every attribute.
func (s *Server) waitSearchAttributes(ctx context.Context, attrs map[string]enums.IndexedValueType) error {
	client := workflowservice.NewWorkflowServiceClient(s.conn)
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		err := poll(ctx, func(ctx context.Context) error {
			_, err := client.CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
				Namespace: s.cfg.Namespace,
				Query:     fmt.Sprintf("%s IS NULL", name),
			})
			return err
		}, "waiting for search attribute "+name)
		if err != nil {
			return err
		}
	}
	return nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
