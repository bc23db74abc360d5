package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/ldapfront/wire"
)

// Options make a search resumable, for RFC 2696 paged results.
type Options struct {
	// PageSize, when positive, stops the search after that many entries;
	// Result.Next is then set if more entries match.
	PageSize int
	// Cursor is a Result.Next from an earlier call with the same request:
	// the search resumes after the entry it names. It is opaque to
	// callers, and stays valid across changes to the tree (entries are
	// visited by kind and lowercased name, not by position).
	Cursor string
}

// Result is how a search ended.
type Result struct {
	Code       wire.ResultCode
	MatchedDN  string
	Diagnostic string
	// Next is the cursor to resume a paged search with; empty when every
	// matching entry has been returned.
	Next string
	// Sent counts the entries emitted by this call.
	Sent int
}

// Search runs req for who, calling emit for each entry that matches and
// that who may read, in a stable order: containers, then users, groups and
// service accounts, each by lowercased name.
//
// Outcomes are reported in Result.Code: success, noSuchObject (with
// MatchedDN) for a base that does not exist or that who may not read,
// invalidDNSyntax, protocolError for a malformed filter or scope,
// sizeLimitExceeded once req.SizeLimit entries were emitted and another
// matched, timeLimitExceeded when req.TimeLimit seconds or ctx's deadline
// passed. An anonymous requester gets success and no entries. The error is
// non-nil only when the search could not be carried out: emit failed, ctx
// was cancelled (an Abandon: send nothing), or the store failed; Code is
// then unavailable or other.
func (d *Directory) Search(ctx context.Context, who Requester, req *wire.SearchRequest, opts Options, emit func(wire.SearchResultEntry) error) (Result, error) {
	rs, err := d.bases.parse(req.BaseDN)
	if err != nil {
		return Result{Code: wire.ResultInvalidDNSyntax, Diagnostic: err.Error()}, nil
	}
	f, err := compileFilter(req.Filter)
	if err != nil {
		return Result{Code: wire.ResultProtocolError, Diagnostic: err.Error()}, nil
	}
	if req.Scope < wire.ScopeBaseObject || req.Scope > wire.ScopeWholeSubtree {
		return Result{Code: wire.ResultProtocolError, Diagnostic: fmt.Sprintf("unknown search scope %d", req.Scope)}, nil
	}
	cur, err := parseCursor(opts.Cursor)
	if err != nil {
		return Result{Code: wire.ResultUnwillingToPerform, Diagnostic: err.Error()}, nil
	}
	if who.Anonymous || who.ID == "" {
		return Result{Code: wire.ResultSuccess}, nil
	}
	if req.TimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeLimit)*time.Second)
		defer cancel()
	}
	s := &search{d: d, ctx: ctx, who: who, f: f, req: req, opts: opts, cur: cur, emit: emit,
		sel: parseSelection(req.Attributes)}
	s.load = d.newLoader(ctx, false)
	mask := new(attrMask)
	for _, d := range attrDefs {
		mask[d.idx] = f.uses(d) || (!s.sel.none && s.sel.wants(d))
	}
	s.load.mask = mask
	s.load.needMemberOf = mask[aMemberOf.idx]
	s.load.needMembers = mask[aMember.idx] || mask[aUniqueMember.idx] || mask[aMemberUid.idx]
	err = s.run(rs)
	return s.finish(err)
}

// search is one running search.
type search struct {
	d    *Directory
	ctx  context.Context
	who  Requester
	f    *filter
	req  *wire.SearchRequest
	opts Options
	cur  cursor
	emit func(wire.SearchResultEntry) error
	sel  selection
	load *loader
	res  Result
	last cursor
	done bool // a limit stopped the search
}

var errStop = errors.New("stop")

func (s *search) finish(err error) (Result, error) {
	switch {
	case err == nil || errors.Is(err, errStop):
		return s.res, nil
	case errors.Is(err, context.DeadlineExceeded):
		s.res.Code = wire.ResultTimeLimitExceeded
		return s.res, nil
	case errors.Is(err, ErrNoSuchObject):
		var nf *NoSuchObjectError
		errors.As(err, &nf)
		s.res.Code, s.res.MatchedDN, s.res.Diagnostic = wire.ResultNoSuchObject, nf.MatchedDN, "no such entry"
		return s.res, nil
	case errors.Is(err, authority.ErrUnavailable), errors.Is(err, authority.ErrNotReady):
		s.res.Code, s.res.Diagnostic = wire.ResultUnavailable, "the directory is unavailable; try again"
	default:
		s.res.Code, s.res.Diagnostic = wire.ResultOther, "search failed"
	}
	return s.res, err
}

// Phases of a search, in visiting order.
const (
	phaseContainers = iota
	phaseUsers
	phaseGroups
	phaseServices
)

var phaseNames = []string{"c", "u", "g", "s"}

type cursor struct {
	phase int
	key   string
	set   bool
}

func (c cursor) String() string { return phaseNames[c.phase] + ":" + c.key }

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	p, key, ok := strings.Cut(s, ":")
	i := slices.Index(phaseNames, p)
	if !ok || i < 0 {
		return cursor{}, errors.New("the paged results cookie is not one this server issued; start the search again")
	}
	return cursor{phase: i, key: key, set: true}, nil
}

// skip reports whether an entry of phase and key was already returned
// before the cursor.
func (s *search) skip(phase int, key string) bool {
	if !s.cur.set {
		return false
	}
	if phase != s.cur.phase {
		return phase < s.cur.phase
	}
	if phase == phaseContainers {
		return slices.Index(containerOrder, key) <= slices.Index(containerOrder, s.cur.key)
	}
	return key <= s.cur.key
}

// run visits the entries in scope of the base.
func (s *search) run(rs []rdn) error {
	kind, id, err := s.d.resolve(s.ctx, s.req.BaseDN, rs)
	if err != nil {
		return err
	}
	if !s.who.canRead(kind, id) {
		_, parent := s.d.parentOf(kind)
		return &NoSuchObjectError{DN: s.req.BaseDN, MatchedDN: parent}
	}
	scope := s.req.Scope
	if kind != KindContainer {
		if scope == wire.ScopeSingleLevel {
			return nil
		}
		return s.one(kind, id)
	}
	var containers []string
	var leaves []int
	switch {
	case scope == wire.ScopeBaseObject:
		containers = []string{id}
	case id == ContainerBase && scope == wire.ScopeSingleLevel:
		containers = containerOrder[1:]
	case id == ContainerBase:
		containers, leaves = containerOrder, []int{phaseUsers, phaseGroups, phaseServices}
	default:
		leaf := map[string]int{ContainerPeople: phaseUsers, ContainerGroups: phaseGroups, ContainerServices: phaseServices}[id]
		leaves = []int{leaf}
		if scope == wire.ScopeWholeSubtree {
			containers = []string{id}
		}
	}
	for _, c := range containers {
		if s.skip(phaseContainers, c) {
			continue
		}
		if err := s.offer(phaseContainers, s.load.container(c)); err != nil {
			return err
		}
	}
	if len(leaves) == 0 {
		return nil
	}
	p, err := s.d.planFilter(s.ctx, s.f)
	if err != nil {
		return err
	}
	p = s.restrict(p)
	for _, ph := range leaves {
		var err error
		switch ph {
		case phaseUsers:
			err = s.users(p.users)
		case phaseGroups:
			err = s.groups(p.groups)
		case phaseServices:
			err = s.services(p.services)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// restrict narrows a plan to what who may read: without a reading role,
// only the requester's own user or service entry (groups stay).
func (s *search) restrict(p plan) plan {
	if s.who.readsAll() {
		return p
	}
	self := cands{ids: []string{s.who.ID}}
	users, services := noCands, noCands
	switch s.who.Kind {
	case KindUser:
		users = p.users.and(self)
	case KindService:
		services = p.services.and(self)
	}
	p.users, p.services = users, services
	return p
}

// parentOf returns the DN reported as matched when an entry of kind is
// missing or hidden.
func (d *Directory) parentOf(kind string) (string, string) {
	switch kind {
	case KindUser:
		return ContainerPeople, d.containerDN(ContainerPeople)
	case KindGroup:
		return ContainerGroups, d.containerDN(ContainerGroups)
	case KindService:
		return ContainerServices, d.containerDN(ContainerServices)
	}
	return "", ""
}

// one visits a single leaf entry (base scope, or subtree of a leaf).
func (s *search) one(kind, id string) error {
	var e *entry
	var err error
	var ph int
	switch kind {
	case KindUser:
		ph = phaseUsers
		var u *authority.User
		if u, err = s.d.auth.GetUser(s.ctx, id); err == nil {
			e, err = s.load.user(u)
		}
	case KindGroup:
		ph = phaseGroups
		var g *authority.Group
		if g, err = s.d.auth.GetGroup(s.ctx, id); err == nil {
			e, err = s.load.group(g)
		}
	default:
		ph = phaseServices
		var sa *authority.ServiceAccount
		if sa, err = s.d.auth.GetServiceAccount(s.ctx, id); err == nil {
			e = s.load.service(sa)
		}
	}
	if errors.Is(err, authority.ErrNotFound) {
		_, parent := s.d.parentOf(kind)
		return &NoSuchObjectError{DN: s.req.BaseDN, MatchedDN: parent}
	}
	if err != nil {
		return err
	}
	if s.skip(ph, e.key) {
		return nil
	}
	return s.offer(ph, e)
}

// pageSize is how many records a scan reads from the authority at a time.
const pageSize = 500

func (s *search) users(c cands) error {
	if !c.all {
		var es []*entry
		for _, id := range c.ids {
			u, err := s.d.auth.GetUser(s.ctx, id)
			if errors.Is(err, authority.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			e, err := s.load.user(u)
			if err != nil {
				return err
			}
			es = append(es, e)
		}
		return s.offerSorted(phaseUsers, es)
	}
	opts := authority.ListOptions{Limit: pageSize}
	if s.cur.set && s.cur.phase == phaseUsers {
		opts.After = s.cur.key
	}
	for {
		p, err := s.d.auth.ListUsers(s.ctx, opts)
		if err != nil {
			return err
		}
		for _, u := range p.Items {
			e, err := s.load.user(u)
			if err != nil {
				return err
			}
			if !s.skip(phaseUsers, e.key) {
				if err := s.offer(phaseUsers, e); err != nil {
					return err
				}
			}
		}
		if p.Next == "" || len(p.Items) == 0 {
			return nil
		}
		opts.After = p.Next
	}
}

func (s *search) groups(c cands) error {
	if !c.all {
		var es []*entry
		for _, id := range c.ids {
			g, err := s.d.auth.GetGroup(s.ctx, id)
			if errors.Is(err, authority.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			e, err := s.load.group(g)
			if err != nil {
				return err
			}
			es = append(es, e)
		}
		return s.offerSorted(phaseGroups, es)
	}
	opts := authority.ListOptions{Limit: pageSize}
	if s.cur.set && s.cur.phase == phaseGroups {
		opts.After = s.cur.key
	}
	for {
		p, err := s.d.auth.ListGroups(s.ctx, opts)
		if err != nil {
			return err
		}
		for _, g := range p.Items {
			e, err := s.load.group(g)
			if err != nil {
				return err
			}
			if !s.skip(phaseGroups, e.key) {
				if err := s.offer(phaseGroups, e); err != nil {
					return err
				}
			}
		}
		if p.Next == "" || len(p.Items) == 0 {
			return nil
		}
		opts.After = p.Next
	}
}

func (s *search) services(c cands) error {
	if !c.all {
		var es []*entry
		for _, id := range c.ids {
			sa, err := s.d.auth.GetServiceAccount(s.ctx, id)
			if errors.Is(err, authority.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			es = append(es, s.load.service(sa))
		}
		return s.offerSorted(phaseServices, es)
	}
	opts := authority.ListOptions{Limit: pageSize}
	if s.cur.set && s.cur.phase == phaseServices {
		opts.After = s.cur.key
	}
	for {
		p, err := s.d.auth.ListServiceAccounts(s.ctx, opts)
		if err != nil {
			return err
		}
		for _, sa := range p.Items {
			e := s.load.service(sa)
			if !s.skip(phaseServices, e.key) {
				if err := s.offer(phaseServices, e); err != nil {
					return err
				}
			}
		}
		if p.Next == "" || len(p.Items) == 0 {
			return nil
		}
		opts.After = p.Next
	}
}

func (s *search) offerSorted(ph int, es []*entry) error {
	slices.SortFunc(es, func(a, b *entry) int { return strings.Compare(a.key, b.key) })
	for _, e := range es {
		if s.skip(ph, e.key) {
			continue
		}
		if err := s.offer(ph, e); err != nil {
			return err
		}
	}
	return nil
}

// offer emits e if who may read it and the filter matches, enforcing the
// size limit and the page size.
func (s *search) offer(ph int, e *entry) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if !s.who.canRead(e.kind, e.id) || s.f.eval(e) != triTrue {
		return nil
	}
	if s.req.SizeLimit > 0 && int64(s.res.Sent) >= s.req.SizeLimit {
		s.res.Code = wire.ResultSizeLimitExceeded
		return errStop
	}
	if s.opts.PageSize > 0 && s.res.Sent >= s.opts.PageSize {
		s.res.Next = s.last.String()
		return errStop
	}
	if err := s.emit(e.render(s.sel, s.req.TypesOnly)); err != nil {
		return fmt.Errorf("sending entry: %w", err)
	}
	s.res.Sent++
	s.last = cursor{phase: ph, key: e.key, set: true}
	return nil
}
