/**
 * The option every proposal form offers (release, rollout change, rollback): also write a signing
 * request file for air-gapped approvers (ARCHITECTURE.md §5). `ProposalResult` then offers it for saving.
 */
export function ExportRequestCheckbox(props: {
  checked: boolean;
  onChange: (checked: boolean) => void;
}): React.JSX.Element {
  return (
    <label className="checkbox">
      <input
        type="checkbox"
        checked={props.checked}
        onChange={(event) => props.onChange(event.target.checked)}
      />
      Also export a signing request for offline approvers
    </label>
  );
}
