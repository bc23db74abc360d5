package connectors

import (
	"context"
	"fmt"
)

// Batcher is implemented by connectors that can send many operations in
// one request (Graph's JSON $batch). Workers use it for bulk passes: a
// directory's first provisioning, or thousands of changes at once.
type Batcher interface {
	// Batch runs ops and returns one error per op (nil where it
	// succeeded), classified as the single calls are; a successful
	// BatchCreate sets its Created.
	Batch(ctx context.Context, ops []BatchOp) []error
}

// BatchOpKind is what one batched operation does.
type BatchOpKind int

// The operations Batch can carry: the ones a bulk pass issues by the
// thousand (first provisioning of a directory, a password policy change).
const (
	// BatchCreate creates Desired with Password, like Connector.Create.
	BatchCreate BatchOpKind = iota + 1
	// BatchUpdate applies Patch to the account ID, like Connector.Update.
	BatchUpdate
	// BatchSetPassword sets Password on the account ID, like
	// Connector.SetPassword.
	BatchSetPassword
)

func (k BatchOpKind) String() string {
	switch k {
	case BatchCreate:
		return "create"
	case BatchUpdate:
		return "update"
	case BatchSetPassword:
		return "set password"
	}
	return fmt.Sprintf("BatchOpKind(%d)", int(k))
}

// BatchOp is one operation of a Batch. Fields other than those its Kind
// uses are ignored.
type BatchOp struct {
	Kind     BatchOpKind
	ID       string   // BatchUpdate, BatchSetPassword
	Desired  Desired  // BatchCreate
	Password string   // BatchCreate, BatchSetPassword
	Patch    Patch    // BatchUpdate
	Created  *Account // set by Batch when a BatchCreate succeeds
}
