pub struct RaftInvariants; pub struct RaftViolation;
