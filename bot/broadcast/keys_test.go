package broadcast

// Keys the tests look inside.
func (s *Service) metaKey(id string) string   { return s.st.BroadcastMetaKey(id) }
func (s *Service) profileKey(p string) string { return s.st.ProfileKey(p) }
