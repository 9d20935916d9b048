// The project and environment the page works on, in the header. Choosing one rewrites the address (the same page in
// the other scope), so every page, link and API call follows; a reload keeps it.
import { useEffect, useState } from 'preact/hooks';
import { environmentsApi, type ProjectWithEnvironments } from '../lib/environments-api.js';
import { environmentIn, sameScope, withScope, type Scope } from '../lib/scope.js';
import { navigate } from '../lib/router.js';

export function ScopeSwitcher(props: { scope: Scope; onProjects?: (projects: ProjectWithEnvironments[] | undefined) => void }) {
  const [projects, setProjects] = useState<ProjectWithEnvironments[]>();
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    environmentsApi.projects().then(
      (list) => {
        setProjects(list);
        props.onProjects?.(list);
      },
      () => setFailed(true),
    );
  }, []);

  const go = (next: Scope) => {
    if (!sameScope(next, props.scope)) navigate(withScope(location.hash || '#/flags', next));
  };

  // A project named in the address without (a known) environment: go to its first one, so API calls have a target.
  useEffect(() => {
    const project = projects?.find((each) => each.key === props.scope.project);
    if (!project || project.environments.some((each) => each.key === props.scope.environment)) return;
    const environment = environmentIn(project, props.scope.environment);
    if (environment) go({ project: project.key, environment });
  }, [projects, props.scope.project, props.scope.environment]);

  // A server without projects (or not answering): one environment, nothing to switch.
  if (failed || !projects) return null;
  const project = projects.find((each) => each.key === props.scope.project);
  const environment = project?.environments.find((each) => each.key === props.scope.environment);
  return (
    <div class="scope-switcher" role="group" aria-label="Project and environment">
      <label>
        <span class="sr-only">Project</span>
        <select
          aria-label="Project"
          value={props.scope.project}
          onChange={(event) => {
            const chosen = projects.find((each) => each.key === event.currentTarget.value);
            const next = chosen && environmentIn(chosen, props.scope.environment);
            if (chosen && next) go({ project: chosen.key, environment: next });
          }}
        >
          {!project && <option value={props.scope.project}>{props.scope.project} (unknown)</option>}
          {projects.map((each) => (
            <option key={each.key} value={each.key}>
              {each.name && each.name !== each.key ? `${each.name} (${each.key})` : each.key}
            </option>
          ))}
        </select>
      </label>
      <span aria-hidden="true" class="scope-sep">/</span>
      <label>
        <span class="sr-only">Environment</span>
        <select aria-label="Environment" value={props.scope.environment} onChange={(event) => go({ project: props.scope.project, environment: event.currentTarget.value })}>
          {!environment && <option value={props.scope.environment}>{props.scope.environment} (unknown)</option>}
          {project?.environments.map((each) => (
            <option key={each.key} value={each.key}>
              {each.name && each.name !== each.key ? `${each.name} (${each.key})` : each.key}
              {each.requireApproval ? ' · approval' : ''}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}
