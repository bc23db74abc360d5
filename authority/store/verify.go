package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Problem is one inconsistency found by Verify.
type Problem struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// Verify reads every record and index key at one revision and reports
// index keys without their record, records missing an index key, and
// memberships of deleted users or groups. It scans everything: it is an
// operator's check (and the crash test's), not a request path.
func (s *Etcd) Verify(ctx context.Context) ([]Problem, error) {
	head, err := s.cli.Get(ctx, s.prefix, clientv3.WithCountOnly(), clientv3.WithLimit(1))
	if err != nil {
		return nil, s.mapErr(err)
	}
	rev := head.Header.Revision
	records := map[string][]unique{} // "<kind>/<id>" -> its uniques
	collections := []struct {
		col, kind string
		uniques   func([]byte) ([]unique, error)
	}{
		{colUsers, kindUser, func(b []byte) ([]unique, error) {
			var u User
			err := json.Unmarshal(b, &u)
			return userUniques(&u), err
		}},
		{colGroups, kindGroup, func(b []byte) ([]unique, error) {
			var g Group
			err := json.Unmarshal(b, &g)
			return groupUniques(&g), err
		}},
		{colServiceAccounts, kindServiceAccount, func(b []byte) ([]unique, error) {
			var sa ServiceAccount
			err := json.Unmarshal(b, &sa)
			return serviceAccountUniques(&sa), err
		}},
		{colTokens, kindToken, func(b []byte) ([]unique, error) {
			var t Token
			err := json.Unmarshal(b, &t)
			return tokenUniques(&t), err
		}},
	}
	var problems []Problem
	for _, c := range collections {
		err := s.scan(ctx, s.prefix+c.col, rev, func(key string, value []byte) {
			id := strings.TrimPrefix(key, s.prefix+c.col)
			us, err := c.uniques(value)
			if err != nil {
				problems = append(problems, Problem{key, "record does not decode: " + err.Error()})
				return
			}
			records[c.kind+"/"+id] = us
		})
		if err != nil {
			return nil, err
		}
	}
	held := map[string]string{} // unique key -> id it points at
	if err := s.scan(ctx, s.prefix+colIndex, rev, func(key string, value []byte) {
		held[key] = string(value)
	}); err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for rk, us := range records {
		kind, id, _ := strings.Cut(rk, "/")
		for _, u := range us {
			k := s.uniqueKey(kind, u)
			wanted[k] = true
			if got, ok := held[k]; !ok {
				problems = append(problems, Problem{k, fmt.Sprintf("index key missing for %s %s", kind, id)})
			} else if got != id {
				problems = append(problems, Problem{k, fmt.Sprintf("index key points at %s, but %s %s holds the value", got, kind, id)})
			}
		}
	}
	for k, id := range held {
		if !wanted[k] {
			problems = append(problems, Problem{k, fmt.Sprintf("orphaned index key (points at %s, which does not hold it)", id)})
		}
	}
	if err := s.scan(ctx, s.prefix+colMembers, rev, func(key string, _ []byte) {
		g, u, ok := s.memberKey(key)
		switch {
		case !ok:
			problems = append(problems, Problem{key, "malformed membership key"})
		case records[kindGroup+"/"+g] == nil:
			problems = append(problems, Problem{key, "membership of a deleted group"})
		case records[kindUser+"/"+u] == nil:
			problems = append(problems, Problem{key, "membership of a deleted user"})
		}
	}); err != nil {
		return nil, err
	}
	return problems, nil
}

// scan visits every key under prefix at rev, a page at a time.
func (s *Etcd) scan(ctx context.Context, prefix string, rev int64, fn func(key string, value []byte)) error {
	from, end := prefix, prefixEnd(prefix)
	for {
		resp, err := s.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithRev(rev), clientv3.WithLimit(5000))
		if err != nil {
			return s.mapErr(err)
		}
		for _, kv := range resp.Kvs {
			fn(string(kv.Key), kv.Value)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
