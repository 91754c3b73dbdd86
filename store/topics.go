package store

import (
	"context"
)

// Forget takes an erased person out of the people index, then asks Redis
// to rewrite its append-only file so the erased values leave its files too
// (an error there just means AOF is off or a rewrite is already running).
func (s *Store) Forget(ctx context.Context, person string) error {
	if err := s.rdb.SRem(ctx, s.peopleOf(person), person).Err(); err != nil {
		return err
	}
	_ = s.rdb.BgRewriteAOF(ctx).Err()
	return nil
}
