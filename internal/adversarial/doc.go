// Package adversarial is the emulator's adversarial suite: forged and
// under-privileged credentials, cross-identity publishes, subscriptions and
// wills, pre-authentication resource abuse, concurrent writes with one etag,
// reconnect churn with desired patches, and kill -9 restarts. Every case runs
// against two targets, the embedded emulator (emulator.Start) and the
// iothub-emulator binary, and the same scenarios run at larger counts with
// -soak (make soak), which prints connections held, RSS before and after,
// and lost updates.
//
// The package has no code outside its tests.
package adversarial
