package bot

// FieldLongFollowUp is the profile field that marks a person for long
// follow-up (ILO guidelines 3d): monthly check-ins to year 5 instead of
// every three months after year 3. A coach sets it through the check-in
// scheduler; its value is the coach's reason. MY DATA says it is kept, and
// DELETE erases it with the rest of the profile.
const FieldLongFollowUp = "ci.long"
