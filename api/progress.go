package api

// Progress is the projector's record under gantry_projector/progress
// (bus.BucketProjector, bus.KeyProgress): the sequence of each stream the
// read models have applied, written after the records it covers.
type Progress struct {
	Applied map[string]uint64 `json:"applied"`
}
