// Package docs holds the README's figures and the tests that hold the
// README to the code: every test the Security section's threat model names
// must exist.
package docs
