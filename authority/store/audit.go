package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// auditLookback bounds how many days back Audit walks for older events.
const auditLookback = 400

// AppendAudit writes an event that is not part of a record change (a
// failed login, a token use).
func (s *Etcd) AppendAudit(ctx context.Context, ev *AuditEvent) error {
	op, err := s.auditOp(ev)
	if err != nil {
		return err
	}
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.cli.Txn(tctx).Then(op).Commit(); err != nil {
		return s.mapErr(err)
	}
	return nil
}

// Audit returns events newest first. Events are filed by day, so a page
// reads a few day ranges, never the whole log.
func (s *Etcd) Audit(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	limit := q.Limit
	if limit <= 0 || limit > MaxPageSize {
		limit = 100
	}
	day := s.now().UTC()
	end := ""
	if q.Before != "" {
		d, err := auditDay(q.Before)
		if err != nil {
			return nil, err
		}
		if day, err = time.Parse("20060102", d); err != nil {
			return nil, err
		}
		end = s.key(colAudit, d, "/", q.Before)
	}
	var out []AuditEvent
	for i := 0; i < auditLookback && len(out) < limit; i++ {
		p := s.key(colAudit, day.Format("20060102"), "/")
		rangeEnd := prefixEnd(p)
		if end != "" && end < rangeEnd {
			rangeEnd = end
		}
		tctx, cancel := s.withTimeout(ctx)
		resp, err := s.cli.Get(tctx, p, clientv3.WithRange(rangeEnd),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend),
			clientv3.WithLimit(int64(limit-len(out))))
		cancel()
		if err != nil {
			return nil, s.mapErr(err)
		}
		for _, kv := range resp.Kvs {
			var ev AuditEvent
			if err := json.Unmarshal(kv.Value, &ev); err != nil {
				return nil, fmt.Errorf("decoding audit event %s: %w", kv.Key, err)
			}
			out = append(out, ev)
		}
		day = day.AddDate(0, 0, -1)
	}
	return out, nil
}

// PruneAudit deletes audit events older than the day of cutoff. Events are
// filed by day, so this is one range delete; replicas may all run it.
func (s *Etcd) PruneAudit(ctx context.Context, cutoff time.Time) (int64, error) {
	from := s.key(colAudit)
	to := s.key(colAudit, cutoff.UTC().Format("20060102"), "/")
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.cli.Delete(tctx, from, clientv3.WithRange(to))
	if err != nil {
		return 0, s.mapErr(err)
	}
	return resp.Deleted, nil
}
