package config

// SchemaID is the $id of the JSON Schema of the configuration file
// (package schema holds it; config/schemagen generates it).
const SchemaID = "https://github.com/factory-wager/edgeconf/schema/cloudflare-config.schema.json"

// Name patterns the rules enforce, as the schema states them (a test
// checks each against its rule).
const (
	FlagNamePattern   = `^[A-Za-z][A-Za-z0-9_-]{0,63}$` // features.<name> (validFlagName)
	IdentifierPattern = `^[A-Za-z_$][A-Za-z0-9_$]*$`    // vars and secrets (IsIdentifier)
	EnvNamePattern    = `^[a-z0-9][a-z0-9_-]{0,62}$`    // cloudflare.environments.<name> (envNames)
)
