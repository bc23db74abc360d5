package scim

import (
	"errors"
	"fmt"
	"testing"

	"github.com/headwater/headwater/scim/scimerr"
)

func TestCollector(t *testing.T) {
	// Without sorting only the page is kept, and everything is counted.
	c := newCollector(query{startIndex: 3, count: 2})
	for i := 0; i < 10; i++ {
		if err := c.add(map[string]any{"id": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	page, total := c.page(query{startIndex: 3, count: 2}, nil)
	if total != 10 || len(page) != 2 || page[0]["id"] != "2" || page[1]["id"] != "3" || len(c.kept) != 2 {
		t.Fatalf("page %v, total %d, kept %d", page, total, len(c.kept))
	}
	// Sorting keeps everything, up to the bound.
	c = newCollector(query{startIndex: 1, count: 10, sortBy: "userName"})
	c.maxSorted = 3
	var err error
	for i := 0; i < 4 && err == nil; i++ {
		err = c.add(map[string]any{})
	}
	var se *scimerr.Error
	if !errors.As(err, &se) || se.ScimType != scimerr.TooMany || se.Status != 400 {
		t.Fatalf("past the sort bound: %v", err)
	}
}
