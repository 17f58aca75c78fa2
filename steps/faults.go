package steps

import "github.com/cucumber/godog"

// faultSteps are the steps that make an emulator fail on purpose, through
// the faults IoT Hub's own SDK test suites inject and the emulator's
// control plane.
func faultSteps(sc *godog.ScenarioContext) {
}
