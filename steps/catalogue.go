package steps

import (
	"github.com/hubspec/hubspec/features"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// The step catalogue: every step of the vocabulary is defined once, as
// data, in per-domain tables beside its handlers (identityVocabulary in
// identities.go, and so on). The engine in internal/vocab makes the rest
// from those tables: godog's registration, the variables in every
// argument, the check of each step's text against the vocabulary, and the
// catalogue that `hubspec steps` prints and docs/steps.md holds
// (catalogue_doc.go).
//
// The tables are package-level because they are immutable: built once,
// read by every scenario, changed by none.

// The domains, in the order the catalogue shows them. Each is also a tag
// (tags.go), which selects the scenarios about it.
const (
	identities = "identities"
	twins      = "twins"
	mqtt       = "mqtt"
	methods    = "methods"
	faults     = "faults"
	policies   = "policies"
	x509       = "x509"
	queries    = "queries"
	telemetry  = "telemetry"
	events     = "events"
	c2d        = "c2d"
	// configurations are automatic device and module configurations.
	configurations = "configurations"
	pnp            = "pnp"
	jobs           = "jobs"
	// timing is what the hub and its clients do after some time passes.
	timing = "time"
)

var domains = []string{identities, twins, mqtt, methods, faults, policies, x509, queries, telemetry, events, c2d, configurations, pnp, jobs, timing}

// step defines a step for a table: see vocab.New.
var step = vocab.New

// vocabulary is the whole catalogue, each domain's tables in the order the
// catalogue shows them. Initialize registers it whole;
// TestCatalogueIsWhatRegisterRegisters checks that nothing else is
// registered.
var vocabulary = vocab.NewCatalogue(domains, features.FS,
	identityVocabulary, identityOpVocabulary, bulkVocabulary, rememberIdentityVocabulary,
	twinVocabulary, twinCheckVocabulary, twinTableVocabulary, rememberTwinVocabulary,
	mqttVocabulary, connectionVocabulary, bareVocabulary, patchVocabulary, receivedVocabulary, groupVocabulary,
	methodVocabulary, methodDeviceVocabulary,
	faultVocabulary, registryRetryVocabulary,
	policyVocabulary,
	x509Vocabulary,
	queryVocabulary,
	builtInVocabulary,
	c2dVocabulary,
	configurationVocabulary,
	pnpVocabulary,
	jobVocabulary,
	timeVocabulary,
)
