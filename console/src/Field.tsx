import type { FieldProblem } from "./api";

type Common = {
  label: string;
  name: string;
  problems: FieldProblem[];
  hint?: string;
};
/** What a control needs to be the field's: its id, name and the link to its complaint. */
type ControlProps = { id: string; name: string; "aria-invalid"?: true; "aria-describedby"?: string };

/** A label, a control, and the API's complaint about the field (matched by name) right under it,
 * or the hint while there is none. */
function Labelled({ label, name, problems, hint, control }: Common & { control: (props: ControlProps) => React.ReactNode }) {
  const problem = problems.find((p) => p.field === name || p.field.endsWith(`.${name}`));
  const id = `field-${name}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {control({ id, name, "aria-invalid": problem ? true : undefined, "aria-describedby": problem ? `${id}-error` : undefined })}
      {hint && !problem && <small className="hint">{hint}</small>}
      {problem && (
        <small id={`${id}-error`} className="error" role="alert">
          {problem.message}
        </small>
      )}
    </div>
  );
}

/** A labelled input. */
export function Field({ label, name, problems, hint, ...input }: Common & React.InputHTMLAttributes<HTMLInputElement>) {
  return <Labelled label={label} name={name} problems={problems} hint={hint} control={(props) => <input {...props} {...input} />} />;
}

/** A labelled choice among ``options`` ([value, text]). */
export function SelectField({
  label, name, problems, hint, options, ...select
}: Common & { options: [value: string, text: string][] } & React.SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <Labelled label={label} name={name} problems={problems} hint={hint} control={(props) => (
      <select {...props} {...select}>
        {options.map(([value, text]) => <option key={value} value={value}>{text}</option>)}
      </select>
    )} />
  );
}
