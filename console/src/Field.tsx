import type { FieldProblem } from "./api";

type Props = {
  label: string;
  name: string;
  problems: FieldProblem[];
  hint?: string;
} & React.InputHTMLAttributes<HTMLInputElement>;

/** A labelled input with the API's complaint about its field (matched by name) right under it. */
export function Field({ label, name, problems, hint, ...input }: Props) {
  const problem = problems.find((p) => p.field === name || p.field.endsWith(`.${name}`));
  const id = `field-${name}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} name={name} aria-invalid={problem ? true : undefined} aria-describedby={problem ? `${id}-error` : undefined} {...input} />
      {hint && !problem && <small className="hint">{hint}</small>}
      {problem && (
        <small id={`${id}-error`} className="error" role="alert">
          {problem.message}
        </small>
      )}
    </div>
  );
}

type SelectProps = {
  label: string;
  name: string;
  problems: FieldProblem[];
  hint?: string;
  options: [value: string, text: string][];
} & React.SelectHTMLAttributes<HTMLSelectElement>;

/** A labelled choice, with the API's complaint about its field right under it. */
export function SelectField({ label, name, problems, hint, options, ...select }: SelectProps) {
  const problem = problems.find((p) => p.field === name || p.field.endsWith(`.${name}`));
  const id = `field-${name}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} name={name} aria-invalid={problem ? true : undefined} {...select}>
        {options.map(([value, text]) => <option key={value} value={value}>{text}</option>)}
      </select>
      {hint && !problem && <small className="hint">{hint}</small>}
      {problem && <small className="error" role="alert">{problem.message}</small>}
    </div>
  );
}
