//! The journal (`--journal FILE`): what a run has done and its open upload sessions, so a killed run resumes.
