package activities

// SetAfterBatch makes every sweep or wipe batch of c call f after it
// committed (tests inject crashes with it). A function, not a method: every
// exported method of Compliance is an activity.
func SetAfterBatch(c *Compliance, f func(table string) error) { c.afterBatch = f }
