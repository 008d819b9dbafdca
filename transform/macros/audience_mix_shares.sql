{#
  The age/gender mix of a row's interested people as shares: each category of the
  age-and-gender estimate over the people who have one, each gender over all genders (unknown
  included). Null when nobody was counted.
#}
{% macro audience_mix_shares() -%}
    {%- set categorised -%}
        (interested_senior_female + interested_senior_male
         + interested_young_female + interested_young_male)
    {%- endset -%}
    {%- set gendered -%}
        (interested_female + interested_male + interested_gender_unknown)
    {%- endset -%}
    {{ ratio('interested_senior_female', categorised) }} as senior_female_share,
    {{ ratio('interested_senior_male', categorised) }} as senior_male_share,
    {{ ratio('interested_young_female', categorised) }} as young_female_share,
    {{ ratio('interested_young_male', categorised) }} as young_male_share,
    {{ ratio('interested_female', gendered) }} as female_share,
    {{ ratio('interested_male', gendered) }} as male_share,
    {{ ratio('interested_gender_unknown', gendered) }} as gender_unknown_share
{%- endmacro %}

{# The counts of interested people by age and gender estimate, then by gender, as staged. #}
{% macro interested_counts() -%}
    {{ return([
        'interested_senior_female', 'interested_senior_male',
        'interested_young_female', 'interested_young_male',
        'interested_female', 'interested_male', 'interested_gender_unknown',
    ]) }}
{%- endmacro %}
