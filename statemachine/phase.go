package statemachine

// Phases of an instance's maintenance, as an operator names them: what the states of
// MaintainInstance are doing. The watch view and the lab's chart show them.
const (
	PhaseChecking    = "checking"     // resolving its groups, checking it, reserving capacity
	PhaseDraining    = "draining"     // out of every group, waiting out the deregistration delay
	PhaseMaintenance = "maintenance"  // the SSM command runs
	PhaseHealthCheck = "health check" // the service is checked on the instance
	PhaseReturning   = "returning"    // registered again, waiting until healthy
	PhaseReleasing   = "releasing"    // back: the reservation is given back, the summary written
	PhaseRestoring   = "restoring"    // something failed: its registrations are put back
)

// instancePhases is the phase of every state of MaintainInstance (a test checks that
// every state has one).
var instancePhases = map[string]string{
	"ResolveTargets": PhaseChecking, "CheckInstance": PhaseChecking, "ReserveCapacity": PhaseChecking,
	"IsCapacityReserved": PhaseChecking, "WaitForCapacity": PhaseChecking,
	// The required check runs while the instance still serves, before any reservation.
	"HasRequiredCheck": PhaseChecking, "StartRequiredCheck": PhaseChecking, "WaitForRequiredCheck": PhaseChecking,
	"WaitAgainForRequiredCheck": PhaseChecking, "CheckRequired": PhaseChecking, "IsMaintenanceRequired": PhaseChecking,
	// The pre-drain hook runs while the instance still serves.
	"StartPreDrainHook": PhaseChecking, "WaitForPreDrainHook": PhaseChecking, "WaitAgainForPreDrainHook": PhaseChecking,
	"CheckPreDrainHook": PhaseChecking, "IsPreDrainHookDone": PhaseChecking,

	"EnterStandby": PhaseDraining, "DeregisterTarget": PhaseDraining, "WaitForDeregistrationDelay": PhaseDraining, "CheckDrain": PhaseDraining,
	"IsTargetDrained": PhaseDraining, "WaitForDrain": PhaseDraining,

	"StartMaintenance": PhaseMaintenance, "WaitForMaintenance": PhaseMaintenance, "WaitAgainForMaintenance": PhaseMaintenance,
	"CheckMaintenance": PhaseMaintenance, "IsMaintenanceDone": PhaseMaintenance,

	"StartPostMaintenanceHook": PhaseHealthCheck, "WaitForPostMaintenanceHook": PhaseHealthCheck, "WaitAgainForPostMaintenanceHook": PhaseHealthCheck,
	"CheckPostMaintenanceHook": PhaseHealthCheck, "IsPostMaintenanceHookDone": PhaseHealthCheck,
	"StartHealthCheck": PhaseHealthCheck, "WaitForHealthCheck": PhaseHealthCheck, "WaitAgainForHealthCheck": PhaseHealthCheck,
	"CheckHealthCheck": PhaseHealthCheck, "IsHealthCheckDone": PhaseHealthCheck,

	"RegisterTarget": PhaseReturning, "WaitForFirstHealthCheck": PhaseReturning, "CheckTargetHealth": PhaseReturning,
	"IsTargetHealthy": PhaseReturning, "WaitForHealthy": PhaseReturning, "ExitStandby": PhaseReturning,

	"ReleaseCapacity": PhaseReleasing, "Summarize": PhaseReleasing,
	// The post-return hook runs once the instance is back in service.
	"HasPostReturnHook": PhaseReleasing, "StartPostReturnHook": PhaseReleasing, "WaitForPostReturnHook": PhaseReleasing, "WaitAgainForPostReturnHook": PhaseReleasing,
	"CheckPostReturnHook": PhaseReleasing, "IsPostReturnHookDone": PhaseReleasing, "PostReturnHookFailed": PhaseReleasing,

	"RestoreTarget": PhaseRestoring, "NothingToRestore": PhaseRestoring, "ExitStandbyAfterRestore": PhaseRestoring, "WaitBeforeRelease": PhaseRestoring,
	"ReleaseAfterRestore": PhaseRestoring, "FailAfterRestore": PhaseRestoring, "RestoreFailed": PhaseRestoring,
	"ReleaseAfterRefusal": PhaseRestoring, "FailAfterRefusal": PhaseRestoring, "ReleaseFailedToo": PhaseRestoring,
	"FailAfterReleaseError": PhaseRestoring,
}

// InstancePhase is the phase a state of MaintainInstance belongs to; a name it does not
// have is its own phase.
func InstancePhase(state string) string {
	if p, ok := instancePhases[state]; ok {
		return p
	}
	return state
}

// OutOfService reports whether an instance in the phase is out of its groups.
func OutOfService(phase string) bool {
	switch phase {
	case PhaseDraining, PhaseMaintenance, PhaseHealthCheck, PhaseReturning:
		return true
	}
	return false
}
