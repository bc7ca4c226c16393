# Local Airflow image for docker compose and the astro CLI: the Apache Airflow 3.3.1 image on
# Python 3.12 (the MWAA 3.3.1 versions) plus the project's requirements and the dev tools the local
# AWS emulator needs. The same image runs Airflow and the emulator.
FROM apache/airflow:3.3.1-python3.12

ARG AIRFLOW_VERSION=3.3.1

# OS packages listed in packages.txt (one per line; the file is empty because nothing needs one).
USER root
COPY packages.txt /opt/focus/packages.txt
RUN if grep -qv '^\s*$' /opt/focus/packages.txt; then \
      apt-get update \
      && xargs -a /opt/focus/packages.txt apt-get install -y --no-install-recommends \
      && rm -rf /var/lib/apt/lists/*; \
    fi
USER airflow

# requirements.txt starts with the Airflow 3.3.1 constraints for Python 3.12, so every package
# resolves to the versions MWAA uses; requirements-lock.txt (made from the same constraints) pins
# the dev tools to the versions of the local virtualenv. PyAthena is preinstalled on MWAA but not
# in this image.
COPY requirements.txt requirements-dev.in requirements-lock.txt /opt/focus/
RUN pip install --no-cache-dir \
      --constraint /opt/focus/requirements-lock.txt \
      "apache-airflow==${AIRFLOW_VERSION}" \
      pyathena \
      -r /opt/focus/requirements.txt \
      -r /opt/focus/requirements-dev.in

# The repository layout under AIRFLOW_HOME (/opt/airflow): focus_pipeline finds include/sql next
# to plugins/. The astro CLI runs this image as built; docker compose mounts the working copies
# over these folders for live edits. devtools/ (emulator, generator) exists only locally.
COPY --chown=airflow:root devtools /opt/airflow/devtools
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root include /opt/airflow/include
COPY --chown=airflow:root dags /opt/airflow/dags
ENV PYTHONPATH=/opt/airflow/devtools:/opt/airflow/plugins
